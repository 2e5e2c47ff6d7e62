#![allow(unused)]
use batchline::Context;

struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, ctx: &mut Context, again: &Context) {}
}

fn main() {}
