extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(range = 10..=1)]
    n: i32,
}

fn main() {}
