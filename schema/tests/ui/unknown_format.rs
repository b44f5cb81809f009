extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
struct S {
    #[guide(format = "phone")]
    s: String,
}

fn main() {}
