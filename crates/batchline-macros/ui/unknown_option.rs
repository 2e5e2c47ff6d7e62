#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(foo)] //~ ERROR unknown action option `foo`; expected `lock`, `lock = "name"`, `ordered` or `name = "..."`
    fn load(&mut self) {}
}

fn main() {}
