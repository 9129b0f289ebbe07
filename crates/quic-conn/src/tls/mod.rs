//! The TLS session interface and its rustls implementation. Placeholder until it lands.
