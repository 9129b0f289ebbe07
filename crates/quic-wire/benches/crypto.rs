//! Placeholder; filled in with its module.
fn main() {}
