#![allow(unused)]
#[batchline::actions]
struct B;

fn main() {}
