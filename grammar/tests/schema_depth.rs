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
        assert!(started.elapsed() < Duration::from_secs(60));
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

/// Found by the fuzzer: a `$ref` back to the root inside `patternProperties`, overlapping an
/// `enum` property, made the compiler recurse through fresh sub-compilations until the stack
/// overflowed (a process abort). It must be a bounded, typed refusal.
#[test]
fn self_referential_enum_filtering_is_refused_not_a_stack_overflow() {
    let schema = json!({
        "properties": {"a": {"enum": [true, {}]}},
        "patternProperties": {"a|b": {"additionalProperties": {"$ref": "#"}}}
    });
    // Run on a thread with a small stack, as a test or an async worker might.
    let err = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || Grammar::from_json_schema(&schema, &CompileOptions::default()))
        .expect("spawn")
        .join()
        .expect("no panic")
        .expect_err("refused");
    assert!(matches!(err, CompileError::LimitExceeded { .. }), "{err}");
}

/// Found by the fuzzer: a `$ref` with a sibling keyword whose target is itself such a
/// reference was merged into itself again and again.
#[test]
fn ref_merged_with_itself_is_refused_not_a_stack_overflow() {
    let schema = json!({"$defs": {"d0": {"$defs": {"d0": {"$ref": "#/$defs/d0"}}, "$ref": "#/$defs/d0"}},
                        "$ref": "#/$defs/d0", "allOf": "x"});
    let result = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || Grammar::from_json_schema(&schema, &CompileOptions::default()))
        .expect("spawn")
        .join()
        .expect("no panic");
    assert!(result.is_err());
}

/// The deepest schema the document limit lets through compiles (or is refused) within a
/// 2 MiB stack.
#[test]
fn deepest_admitted_schema_fits_a_small_stack() {
    for depth in [25, 31, 40] {
        let schema = nested_objects(depth);
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Grammar::from_json_schema(&schema, &CompileOptions::default()).is_ok())
            .expect("spawn")
            .join()
            .expect("no panic");
        if depth <= 25 {
            assert!(outcome, "depth {depth} should compile");
        }
    }
}

/// Found by the fuzzer: `exclusiveMaximum: -1e300` spelled out 300 digits in the grammar
/// (seconds to compile). Bounds with more digits than the documented limit are refused.
#[test]
fn astronomically_large_bounds_are_refused_quickly() {
    let schema = json!({"type": "integer", "exclusiveMaximum": -1e300});
    let started = Instant::now();
    let err = Grammar::from_json_schema(&schema, &CompileOptions::default()).expect_err("refused");
    assert!(matches!(err, CompileError::LimitExceeded { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    // u64::MAX and i64::MIN (what the derive emits for integer types) still compile.
    let ok = json!({"type": "integer", "minimum": i64::MIN, "maximum": u64::MAX});
    let g = Grammar::from_json_schema(&ok, &CompileOptions::default()).expect("64-bit bounds");
    assert!(g.accepts(b"18446744073709551615").is_ok());
    assert!(g.accepts(b"18446744073709551616").is_err());
}
