#![allow(unused)]
struct B;

#[batchline::actions] //~ ERROR no #[action] methods: mark methods with #[action]
impl B {
    fn helper(&self) {}
}

fn main() {}
