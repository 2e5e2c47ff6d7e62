#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn make(n: usize) {}
}

fn main() {}
