#![allow(unused)]
struct B;

impl B {
    #[batchline::action] //~ ERROR `#[action]` only works on methods inside an `impl` block marked `#[batchline::actions]`
    fn load(&mut self) {}
}

fn main() {}
