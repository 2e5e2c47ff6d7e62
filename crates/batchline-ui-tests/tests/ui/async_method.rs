#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    async fn load(&mut self) {}
}

fn main() {}
