extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(minimum = 0.5)]
    n: u16,
}

fn main() {}
