#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn consume(self) {}

    #[action]
    fn boxed(self: Box<Self>) {}
}

fn main() {}
