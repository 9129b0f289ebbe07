//! qlog output (JSON-SEQ). Placeholder until the module lands.
