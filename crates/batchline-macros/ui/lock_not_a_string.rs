#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(lock = 5)] //~ ERROR the lock name must be a string literal
    fn number(&mut self) {}

    #[action(lock = my_lock)] //~ ERROR the lock name must be a string literal
    fn ident(&mut self) {}
}

fn main() {}
