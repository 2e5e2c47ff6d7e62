#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    fn helper(&self) {}
}

fn main() {}
