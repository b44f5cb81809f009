extern crate trellis_schema as trellis;
use trellis_macros::Generable;

type Count = u32;

#[derive(Generable)]
struct S {
    #[guide(pattern = "[0-9]+")]
    n: Count,
}

fn touch() -> trellis::__private::serde_json::Value {
    let mut g = trellis::SchemaGenerator::new();
    <S as trellis::Generable>::schema(&mut g)
}

fn main() {}
