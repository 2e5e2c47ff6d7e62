#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(ordered, lock, ordered)]
    fn load(&mut self) {}
}

fn main() {}
