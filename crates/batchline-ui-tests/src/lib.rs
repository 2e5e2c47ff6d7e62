//! Compile-fail tests of `#[batchline::actions]` and `#[action]`: every misuse in `tests/ui/`
//! must fail to compile with the message recorded next to it. This crate has no code of its own.
