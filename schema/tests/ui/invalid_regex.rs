extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(pattern = "([a-z]+")]
    name: String,
}

fn main() {}
