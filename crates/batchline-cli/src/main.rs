//! The `batchline` command.
fn main() {}
