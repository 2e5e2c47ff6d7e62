#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn consume(self) {} //~ ERROR an action takes `&mut self` or `&self`, not `self` by value

    #[action]
    fn boxed(self: Box<Self>) {} //~ ERROR an action takes `&mut self` or `&self`, not `self` by value
}

fn main() {}
