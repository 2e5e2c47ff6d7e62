#![allow(unused)]
struct B;

#[batchline::actions]
impl Clone for B {
    #[action]
    fn clone(&self) -> Self {
        B
    }
}

fn main() {}
