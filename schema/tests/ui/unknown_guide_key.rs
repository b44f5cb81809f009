extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(maxlen = 3)]
    name: String,
}

fn main() {}
