//! Packet headers (RFC 9000 §17). Placeholder until the header codec lands.
