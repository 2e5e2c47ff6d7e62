#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, path: &str) {}
}

fn main() {}
