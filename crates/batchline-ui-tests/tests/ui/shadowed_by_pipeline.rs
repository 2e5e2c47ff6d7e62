#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn run(&mut self) {}
}

fn main() {}
