//! Compile-fail tests: misuse of `#[derive(Generable)]` and `#[guide]` is a
//! compile error with a span on the offending tokens.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
