#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(foo)]
    fn load(&mut self) {}
}

fn main() {}
