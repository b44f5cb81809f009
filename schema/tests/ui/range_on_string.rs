extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(range = 1..=5)]
    name: String,
}

fn main() {}
