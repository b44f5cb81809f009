extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(element(pattern = "a"))]
    xs: Vec<u8>,
}

fn main() {}
