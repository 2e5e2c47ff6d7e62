#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action(ordered, lock, ordered)] //~ ERROR duplicate action option `ordered`
    fn load(&mut self) {}
}

fn main() {}
