#![allow(unused)]
struct B;

#[batchline::actions]
impl Clone for B { //~ ERROR `#[batchline::actions]` goes on an inherent `impl` block (`impl MyBatch { ... }`), not on a trait implementation
    #[action]
    fn clone(&self) -> Self {
        B
    }
}

fn main() {}
