extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    name: &'static str,
}

fn main() {}
