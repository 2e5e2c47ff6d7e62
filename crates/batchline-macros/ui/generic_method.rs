#![allow(unused)]
struct B;

#[batchline::actions]
impl B {
    #[action]
    fn load<T: Clone, const N: usize>(&mut self, value: T) {} //~ ERROR an action method cannot have type or const parameters: put them on the `impl` block (`impl<T> MyBatch<T> { ... }`)
//~^ ERROR an action method cannot have type or const parameters: put them on the `impl` block (`impl<T> MyBatch<T> { ... }`)
}

fn main() {}
