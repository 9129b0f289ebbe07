//! Placeholder: the side-by-side benchmark harness lands with its work item.
fn main() {}
