extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(range = 0..=300)]
    n: u8,
}

fn main() {}
