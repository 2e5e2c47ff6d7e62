#![allow(unused)]
struct B;

impl B {
    #[batchline::action]
    fn load(&mut self) {}
}

fn main() {}
