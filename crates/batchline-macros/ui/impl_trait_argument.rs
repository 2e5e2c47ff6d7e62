#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, value: impl Clone) {} //~ ERROR an action argument cannot be `impl Trait`: take a concrete type, or add a type parameter to the `impl` block
}

fn main() {}
