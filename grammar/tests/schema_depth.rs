//! A schema nested deeper than `Limits::max_schema_depth` is refused up front, in bounded
//! time and stack, whether it came from a parser or was built in code.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use trellis_grammar::{CompileError, CompileOptions, Grammar};

fn nested_arrays(depth: usize) -> Value {
    let mut schema = json!({"type": "integer"});
    for _ in 0..depth {
        schema = json!({"type": "array", "items": schema});
    }
    schema
}

fn nested_objects(depth: usize) -> Value {
    let mut schema = json!({"type": "integer"});
    for _ in 0..depth {
        schema = json!({"type": "object", "properties": {"a": schema}, "required": ["a"]});
    }
    schema
}

#[test]
fn very_deep_schemas_are_refused_quickly() {
    for schema in [nested_arrays(500), nested_objects(300), nested_arrays(2000)] {
        let started = Instant::now();
        let err =
            Grammar::from_json_schema(&schema, &CompileOptions::default()).expect_err("too deep");
        assert!(
            matches!(err, CompileError::LimitExceeded { ref what, .. } if what.contains("depth")),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn moderately_deep_schemas_still_compile() {
    let g = Grammar::from_json_schema(&nested_objects(20), &CompileOptions::default())
        .expect("20 levels compile");
    let mut doc = String::from("1");
    for _ in 0..20 {
        doc = format!("{{\"a\":{doc}}}");
    }
    assert!(g.accepts(doc.as_bytes()).is_ok());
}
