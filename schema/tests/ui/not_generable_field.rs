extern crate trellis_schema as trellis;
use trellis_macros::Generable;

struct NotGenerable;

#[derive(Generable)]
struct S {
    inner: NotGenerable,
}

fn main() {}
