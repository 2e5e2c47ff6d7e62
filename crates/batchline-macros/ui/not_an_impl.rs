#![allow(unused)]
#[batchline::actions] //~ ERROR `#[batchline::actions]` goes on an inherent `impl` block of a batch type: `impl MyBatch { ... }`
struct B;

fn main() {}
