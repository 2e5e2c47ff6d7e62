#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn make(n: usize) {} //~ ERROR an action is a method: it takes `&mut self` or `&self`
}

fn main() {}
