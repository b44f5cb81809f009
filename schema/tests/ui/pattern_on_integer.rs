extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(pattern = "[0-9]+")]
    n: u32,
}

fn main() {}
