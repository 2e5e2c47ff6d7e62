#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load(&mut self, path: &str) {} //~ ERROR action arguments are owned values (they are kept in the pipeline and cloned for every batch); take `T`, not `&T`
}

fn main() {}
