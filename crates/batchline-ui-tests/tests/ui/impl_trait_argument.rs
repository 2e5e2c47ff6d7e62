#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, value: impl Clone) {}
}

fn main() {}
