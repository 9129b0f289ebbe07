//! Transport parameters (RFC 9000 §18). Placeholder until the codec lands.
