//! Packet protection (RFC 9001 §5). Placeholder until the implementation lands.
