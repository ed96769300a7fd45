//! The `mica` binary.
fn main() {}
