#![allow(unused)]
use batchline::Context;

struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, ctx: &mut Context, again: &Context) {} //~ ERROR an action takes at most one context parameter (`ctx: &mut Context`)
}

fn main() {}
