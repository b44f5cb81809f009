extern crate trellis_schema as trellis;
use trellis_macros::Generable;

#[derive(Generable)]
#[serde(tag = "type")]
enum E {
    A(u8, u8),
}

fn main() {}
