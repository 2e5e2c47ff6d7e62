#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load<T: Clone, const N: usize>(&mut self, value: T) {}
}

fn main() {}
