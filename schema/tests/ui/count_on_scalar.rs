extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(count = 3)]
    flag: bool,
}

fn main() {}
