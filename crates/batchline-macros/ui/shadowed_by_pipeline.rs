#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn run(&mut self) {} //~ ERROR an action method cannot be named `run`: `Pipeline::run` would hide it; rename the method (`#[action(name = "...")]` only renames the step)
}

fn main() {}
