#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    async fn load(&mut self) {} //~ ERROR an action cannot be `async`: actions run synchronously on the pipeline's threads
}

fn main() {}
