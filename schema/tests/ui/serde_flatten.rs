extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct Inner {
    a: u8,
}

#[derive(Generable)]
struct S {
    #[serde(flatten)]
    inner: Inner,
}

fn main() {}
