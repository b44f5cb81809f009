extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(length = 5..=2)]
    s: String,
}

fn main() {}
