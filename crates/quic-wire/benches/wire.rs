//! Placeholder; the wire benchmarks land with the frame codec and packet protection.
fn main() {}
