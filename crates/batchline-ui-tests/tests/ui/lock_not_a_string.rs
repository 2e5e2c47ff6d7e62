#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(lock = 5)]
    fn number(&mut self) {}

    #[action(lock = my_lock)]
    fn ident(&mut self) {}
}

fn main() {}
