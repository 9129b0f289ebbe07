//! The deterministic network simulator. Placeholder until the module lands.
