//! Misuses of `#[batchline::actions]` / `#[action]` and the compile errors they give
//! (regenerate the expected output with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
