#![allow(unused)]
struct B;

#[batchline::actions(trait = Steps)]
impl B {
    #[action]
    fn load(&mut self) {}
}

fn main() {}
