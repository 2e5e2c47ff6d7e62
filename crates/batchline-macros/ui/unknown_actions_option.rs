#![allow(unused)]
struct B;

#[batchline::actions(trait = Steps)] //~ ERROR unknown option `trait` of `#[batchline::actions]`; expected `trait_name = Name` or `vis = pub(crate)`
impl B {
    #[action]
    fn load(&mut self) {}
}

fn main() {}
