//! Generated code must not trip common lints in user crates.
#![deny(missing_docs, unused, nonstandard_style)]
extern crate trellis_schema as trellis;

use trellis_macros::Generable;

/// Documented struct.
#[derive(Generable, Debug, PartialEq)]
pub struct Documented<T> {
    /// A field.
    pub value: T,
    /// Another field.
    #[guide(count = 1..=2)]
    pub items: Vec<u8>,
}

/// Documented enum.
#[derive(Generable, Debug, PartialEq)]
pub enum Choice<T> {
    /// A.
    A,
    /// B.
    B(T),
    /// C.
    C {
        /// Field.
        x: bool,
    },
}

/// Documented tuple struct.
#[derive(Generable, Debug, PartialEq)]
pub struct Pair(pub u8, pub String);

#[test]
fn compiles_without_lint_errors() {
    let s = trellis::root_schema::<Choice<Documented<Pair>>>();
    assert!(s.definitions().unwrap().contains_key("Documented_Pair"));
}
