extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(count = 2)]
    xs: [u8; 3],
}

fn main() {}
