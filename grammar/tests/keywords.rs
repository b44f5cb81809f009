//! One test per keyword family: accepted and rejected documents, plus the error contract.

use serde_json::json;
use trellis_grammar::*;

fn g(schema: serde_json::Value) -> Grammar {
    Grammar::from_json_schema(&schema, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{schema}: {e}"))
}

fn check(schema: serde_json::Value, ok: &[&str], bad: &[&str]) {
    let gr = g(schema.clone());
    for d in ok {
        assert_eq!(
            gr.accepts(d.as_bytes()),
            Ok(()),
            "{schema} should accept {d}"
        );
    }
    for d in bad {
        assert!(
            gr.accepts(d.as_bytes()).is_err(),
            "{schema} should reject {d}"
        );
    }
}

#[test]
fn type_and_arrays_of_types() {
    check(
        json!({"type":"integer"}),
        &["0", "-12", "123456789012345678901234567890"],
        &["1.0", "1e3", "01", "-", "\"1\"", " 1"],
    );
    check(
        json!({"type":"number"}),
        &["0", "-0.5", "1e-3", "2E+10", "1.0"],
        &["01", ".5", "1.", "1e", "+1", "NaN"],
    );
    check(
        json!({"type":["string","null"]}),
        &["\"a\"", "null"],
        &["1", "true"],
    );
    check(
        json!({"type":"boolean"}),
        &["true", "false"],
        &["True", "1"],
    );
    check(
        json!(true),
        &["1", "{\"a\":[null,{}]}", "\"x\""],
        &["", "{", "[1,]"],
    );
    check(json!(false), &[], &["1", "null", "{}"]);
}

#[test]
fn strings_escapes_and_lengths() {
    check(
        json!({"type":"string"}),
        &[
            r#""""#,
            r#""a\"b""#,
            r#""\u00e9\n\/""#,
            r#""\ud83d\ude00""#,
            "\"日本\"",
        ],
        &["\"\n\"", r#""\x""#, r#""\ud83d""#, r#""\u12""#, "\"a"],
    );
    check(
        json!({"type":"string","minLength":2,"maxLength":3}),
        &[r#""ab""#, r#""日本語""#, r#""\n\t""#],
        &[r#""a""#, r#""abcd""#],
    );
    check(
        json!({"type":"string","pattern":"a"}),
        &[r#""xay""#, r#""a""#],
        &[r#""xyz""#],
    );
    check(
        json!({"type":"string","pattern":"^[0-9]{3}$","minLength":3}),
        &[r#""123""#],
        &[r#""12""#, r#""1234""#, r#""１２３""#],
    );
    check(
        json!({"type":"string","pattern":"^\\d+$"}),
        &[r#""42""#],
        &[r#""٤٢""#],
    );
    check(
        json!({"type":"string","pattern":"^a.c$"}),
        &[r#""abc""#, r#""a\"c""#],
        &[r#""a\nc""#, r#""a\rc""#],
    );
    check(
        json!({"type":"string","pattern":"^x","maxLength":2}),
        &[r#""xy""#],
        &[r#""xyz""#, r#""yx""#],
    );
}

#[test]
fn formats() {
    check(
        json!({"type":"string","format":"date"}),
        &[r#""2024-02-29""#],
        &[r#""2023-02-29""#, r#""2024-13-01""#],
    );
    check(
        json!({"type":"string","format":"uuid"}),
        &[r#""123e4567-e89b-12d3-a456-426614174000""#],
        &[r#""123e4567""#],
    );
    check(
        json!({"type":"string","format":"ipv4"}),
        &[r#""10.0.0.1""#],
        &[r#""10.0.0.256""#],
    );
    check(
        json!({"format":"email"}),
        &[r#""a@b.co""#, "1", "null"],
        &[r#""ab.co""#],
    );
    assert!(matches!(
        Grammar::from_json_schema(&json!({"format":"iri"}), &CompileOptions::default()),
        Err(CompileError::Unsupported { keyword, .. }) if keyword == "format"
    ));
}

#[test]
fn numeric_bounds() {
    check(
        json!({"type":"integer","minimum":-5,"maximum":100}),
        &["-5", "0", "100", "-0"],
        &["-6", "101", "1000"],
    );
    check(
        json!({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10}),
        &["1", "9"],
        &["0", "10", "-1"],
    );
    check(
        json!({"type":"number","minimum":1.5,"maximum":2.25}),
        &["1.5", "2", "2.25", "2.250", "1.75"],
        &["1.49", "2.26", "1e0", "3"],
    );
    check(
        json!({"type":"number","exclusiveMaximum":0}),
        &["-0.001", "-5"],
        &["0", "-0", "0.0", "1"],
    );
    check(
        json!({"type":"integer","minimum":9007199254740993u64}),
        &["9007199254740993", "99999999999999999999"],
        &["9007199254740992"],
    );
    // draft 4 boolean exclusiveMaximum
    check(
        json!({"type":"number","maximum":3,"exclusiveMaximum":true}),
        &["2.999"],
        &["3", "3.0"],
    );
    check(json!({"type":"integer","minimum":2.5}), &["3"], &["2"]);
}

#[test]
fn objects_order_required_additional() {
    let s = json!({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["b"],"additionalProperties":false});
    check(
        s,
        &[r#"{"a":1,"b":"x"}"#, r#"{"b":"x"}"#],
        &[
            r#"{"b":"x","a":1}"#,
            r#"{"a":1}"#,
            r#"{"b":"x","c":1}"#,
            "{}",
            r#"{"b":"x","b":"y"}"#,
        ],
    );
    let s = json!({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"boolean"}});
    check(
        s,
        &[r#"{"a":1,"z":true}"#, r#"{"z":false}"#, "{}"],
        &[r#"{"z":1}"#, r#"{"a":true}"#, r#"{"z":true,"a":1}"#],
    );
    check(
        json!({"type":"object","required":["x"]}),
        &[r#"{"x":[1]}"#, r#"{"x":1,"y":2}"#],
        &["{}", r#"{"y":2}"#],
    );
    check(
        json!({"type":"object","minProperties":1,"maxProperties":2}),
        &[r#"{"a":1}"#, r#"{"a":1,"b":2}"#],
        &["{}", r#"{"a":1,"b":2,"c":3}"#],
    );
    check(
        json!({"type":"object","patternProperties":{"^x_":{"type":"integer"}},"additionalProperties":false}),
        &[r#"{"x_a":1}"#, "{}"],
        &[r#"{"x_a":"s"}"#, r#"{"y":1}"#],
    );
}

#[test]
fn arrays() {
    check(
        json!({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2}),
        &["[1]", "[1,2]"],
        &["[]", "[1,2,3]", "[1,]", "[\"a\"]"],
    );
    check(
        json!({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}),
        &["[]", "[\"a\"]", "[\"a\",1]"],
        &["[1]", "[\"a\",1,2]"],
    );
    check(
        json!({"$schema":"http://json-schema.org/draft-07/schema#","type":"array","items":[{"type":"string"}],"additionalItems":{"type":"boolean"}}),
        &["[\"a\",true,false]"],
        &["[\"a\",1]"],
    );
    check(json!({"type":"array","uniqueItems":false}), &["[1,1]"], &[]);
    assert!(
        Grammar::from_json_schema(&json!({"uniqueItems":true}), &CompileOptions::default())
            .is_err()
    );
}

#[test]
fn enum_const_combinators() {
    check(
        json!({"enum":["a",1,null,{"k":[1]}]}),
        &["\"a\"", "1", "1.0", "null", r#"{"k":[1]}"#],
        &["\"b\"", "2", "{}"],
    );
    check(json!({"const":"x","type":"string"}), &["\"x\""], &["\"y\""]);
    check(
        json!({"enum":["ab","abc"],"maxLength":2}),
        &["\"ab\""],
        &["\"abc\""],
    );
    check(
        json!({"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]}),
        &["1", "\"a\""],
        &["\"ab\"", "1.5"],
    );
    check(
        json!({"allOf":[{"type":"integer"},{"minimum":3}]}),
        &["3"],
        &["2"],
    );
    check(
        json!({"allOf":[{"type":"string","pattern":"a"},{"pattern":"b"}]}),
        &["\"ab\"", "\"ba\""],
        &["\"aa\""],
    );
    check(
        json!({"oneOf":[{"type":"integer"},{"type":"string"}]}),
        &["1", "\"a\""],
        &["null"],
    );
    assert!(matches!(
        Grammar::from_json_schema(&json!({"oneOf":[{"type":"integer"},{"minimum":2}]}), &CompileOptions::default()),
        Err(CompileError::Unsupported { keyword, .. }) if keyword == "oneOf"
    ));
    check(
        json!({"type":"string","nullable":true}),
        &["null", "\"a\""],
        &["1"],
    );
}

#[test]
fn refs_and_recursion() {
    let s = json!({"$defs":{"t":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/$defs/t"}}},"additionalProperties":false}},"$ref":"#/$defs/t"});
    check(
        s,
        &["{}", r#"{"c":[{"c":[{"c":[{"c":[{}]}]}]}]}"#],
        &[r#"{"c":[1]}"#],
    );
    check(
        json!({"definitions":{"a":{"type":"integer"}},"items":{"$ref":"#/definitions/a"},"type":"array"}),
        &["[1]"],
        &["[\"x\"]"],
    );
    check(
        json!({"type":"object","properties":{"self":{"$ref":"#"}},"additionalProperties":false}),
        &[r#"{"self":{"self":{}}}"#],
        &[r#"{"self":1}"#],
    );
    assert!(matches!(
        Grammar::from_json_schema(
            &json!({"$ref":"#/$defs/missing"}),
            &CompileOptions::default()
        ),
        Err(CompileError::UnresolvedRef { .. })
    ));
    assert!(matches!(
        Grammar::from_json_schema(
            &json!({"$ref":"https://example.com/x.json"}),
            &CompileOptions::default()
        ),
        Err(CompileError::UnresolvedRef { .. })
    ));
}

#[test]
fn unknown_keywords_error_with_pointer_and_lenient_skips() {
    let s = json!({"type":"object","properties":{"a":{"type":"string","contains":{"x":1}}}});
    let e = Grammar::from_json_schema(&s, &CompileOptions::default()).unwrap_err();
    assert_eq!(
        e,
        CompileError::Unsupported {
            keyword: "contains".into(),
            pointer: "#/properties/a".into()
        }
    );
    assert!(e.to_string().contains("contains") && e.to_string().contains("#/properties/a"));
    let opts = CompileOptions {
        lenient: true,
        ..Default::default()
    };
    let gr = Grammar::from_json_schema(&s, &opts).unwrap();
    assert_eq!(
        gr.skipped(),
        &[Skipped {
            keyword: "contains".into(),
            pointer: "#/properties/a".into()
        }]
    );
    assert!(gr.accepts(br#"{"a":"x"}"#).is_ok());
    // annotations are fine
    g(
        json!({"title":"t","description":"d","default":1,"examples":[1],"$comment":"c","deprecated":true,"readOnly":true,"type":"integer"}),
    );
    // malformed values are Invalid, with a pointer
    let e = Grammar::from_json_schema(
        &json!({"type":"object","properties":{"a":{"minLength":-1}}}),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, CompileError::Invalid { ref pointer, .. } if pointer == "#/properties/a/minLength"),
        "{e}"
    );
    assert!(matches!(
        Grammar::from_json_schema(&json!({"type":"foo"}), &CompileOptions::default()),
        Err(CompileError::Invalid { .. })
    ));
    assert!(matches!(
        Grammar::from_json_schema(&json!(3), &CompileOptions::default()),
        Err(CompileError::Invalid { .. })
    ));
}

#[test]
fn rejection_offsets() {
    let gr = g(
        json!({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false}),
    );
    assert_eq!(gr.accepts(br#"{"a":x}"#), Err(Rejection { offset: 5 }));
    assert_eq!(gr.accepts(br#"{"a":1"#), Err(Rejection { offset: 6 }));
    assert_eq!(gr.accepts(br#"{"b""#), Err(Rejection { offset: 2 }));
}

#[test]
fn bounded_whitespace() {
    let opts = CompileOptions {
        whitespace: Whitespace::Bounded { max_run: 2 },
        ..Default::default()
    };
    let gr = Grammar::from_json_schema(&json!({"type":"array","items":{"type":"integer"}}), &opts)
        .unwrap();
    assert!(gr.accepts(b"[ 1,\n 2 ]").is_ok());
    assert!(gr.accepts(b"[   1]").is_err());
    assert!(gr.accepts(b" [1]").is_err());
    assert!(g(json!({"type":"array"})).accepts(b"[1, 2]").is_err());
}

#[test]
fn allof_by_type_intersection_keeps_integer_restriction() {
    check(
        json!({"allOf":[{"type":"integer"},{"maximum":10}],"minimum":1.5}),
        &["2", "10"],
        &["1.5", "2.5", "1", "11"],
    );
    check(
        json!({"allOf":[{"type":["integer","string"]},{"anyOf":[{"type":"number"},{"maxLength":1}]}]}),
        &["3", "\"a\""],
        &["3.5", "\"ab\"", "null"],
    );
}

#[test]
fn counted_long_strings() {
    use std::time::Instant;
    let t = Instant::now();
    let gr = g(
        json!({"type":"object","properties":{"s":{"type":"string","minLength":9,"maxLength":5000}},"required":["s"],"additionalProperties":false}),
    );
    assert!(t.elapsed().as_secs_f64() < 60.0, "hang detector");
    let ok9 = r#"{"s":"日本\n\u00e9abc\"\\"}"#; // 9 characters
    assert_eq!(gr.accepts(ok9.as_bytes()), Ok(()));
    assert!(gr.accepts(br#"{"s":"12345678"}"#).is_err());
    let long = format!(r#"{{"s":"{}"}}"#, "é".repeat(5000));
    assert_eq!(gr.accepts(long.as_bytes()), Ok(()));
    let too_long = format!(r#"{{"s":"{}"}}"#, "é".repeat(5001));
    assert_eq!(
        gr.accepts(too_long.as_bytes()),
        Err(Rejection {
            offset: 6 + 2 * 5000
        })
    );
    check(
        json!({"type":"string","minLength":10}),
        &[r#""0123456789""#, r#""01234567890123""#],
        &[r#""012345678""#],
    );
    check(
        json!({"oneOf":[{"type":"string","maxLength":20},{"type":"integer"}]}),
        &[r#""abc""#, "1"],
        &["null"],
    );
    check(
        json!({"allOf":[{"pattern":"a"},{"pattern":"b"}],"maxLength":20,"type":"string"}),
        &[r#""ab""#],
        &[r#""aa""#],
    );
}

#[test]
fn many_items_of_large_objects_and_property_count_conflicts() {
    use std::time::Instant;
    let t = Instant::now();
    let item = json!({"type":"object","properties":{"id":{"type":"integer","minimum":0},"name":{"type":"string","maxLength":40},
        "when":{"type":"string","format":"date-time"}},"required":["id","name"],"additionalProperties":false});
    let gr = g(json!({"type":"array","items":item,"minItems":1,"maxItems":200}));
    assert!(
        t.elapsed().as_secs_f64() < 60.0,
        "hang detector: compile took {:?}",
        t.elapsed()
    );
    let one = r#"{"id":1,"name":"a","when":"2024-01-01T00:00:00Z"}"#;
    let arr = |n: usize| format!("[{}]", vec![one; n].join(","));
    assert!(gr.accepts(arr(1).as_bytes()).is_ok());
    assert!(gr.accepts(arr(200).as_bytes()).is_ok());
    assert!(gr.accepts(arr(201).as_bytes()).is_err());
    assert!(gr.accepts(b"[]").is_err());
    assert!(gr.accepts(br#"[{"id":-1,"name":"a"}]"#).is_err());
    check(
        json!({"type":"object","minProperties":1,"maxProperties":0}),
        &[],
        &["{}", r#"{"a":1}"#],
    );
}

#[test]
fn large_enums_are_exact_tries() {
    // 40 spellings (compiled as a trie), with prefix pairs and a shared suffix.
    let mut values: Vec<serde_json::Value> = (0..36).map(|i| json!(format!("v{i}"))).collect();
    values.extend([json!("a"), json!("ab"), json!("abc"), json!("b\"q")]);
    let schema = json!({
        "type": "object",
        "properties": { "k": { "enum": values }, "n": { "type": "integer" } },
        "required": ["k", "n"],
        "additionalProperties": false
    });
    let ok: Vec<String> = ["v0", "v9", "v35", "a", "ab", "abc", "b\\\"q"]
        .iter()
        .map(|v| format!("{{\"k\":\"{v}\",\"n\":1}}"))
        .collect();
    let bad: Vec<String> = ["v36", "v", "abcd", "", "b", "v01", "A"]
        .iter()
        .map(|v| format!("{{\"k\":\"{v}\",\"n\":1}}"))
        .collect();
    let ok: Vec<&str> = ok.iter().map(String::as_str).collect();
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    check(schema.clone(), &ok, &bad);
    // Mixed types stay exact too.
    let mut mixed = values.clone();
    mixed.extend([json!(1), json!(null), json!({"x": [1]})]);
    check(
        json!({"enum": mixed}),
        &["\"v3\"", "1", "null", "{\"x\":[1]}", "\"abc\""],
        &["\"v99\"", "2", "{\"x\":[]}", "true"],
    );
}

#[test]
fn lexemes_used_twice_and_short_length_ranges() {
    check(
        json!({
            "type": "object",
            "properties": {
                "a": { "type": "string", "format": "date" },
                "b": { "type": "string", "format": "date" },
                "c": { "type": "string", "minLength": 2, "maxLength": 3 },
                "d": { "type": "string", "pattern": "^[a-z]+$", "maxLength": 4 }
            },
            "required": ["a", "b", "c", "d"],
            "additionalProperties": false
        }),
        &[
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"xy","d":"abcd"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"\u00e9\n\"","d":"a"}"#,
        ],
        &[
            r#"{"a":"2024-02-30","b":"1999-12-31","c":"xy","d":"abcd"}"#,
            r#"{"a":"2024-02-29","b":"1999-13-31","c":"xy","d":"abcd"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"x","d":"abcd"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"wxyz","d":"abcd"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"xy","d":"abcde"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"xy","d":"ab1"}"#,
            r#"{"a":"2024-02-29","b":"1999-12-31","c":"xy","d":""}"#,
        ],
    );
}

#[test]
fn one_of_branches_become_one_exact_rule() {
    check(
        json!({
            "type": "object",
            "properties": {
                "p": { "oneOf": [
                    { "type": "object", "properties": { "m": { "const": "card" }, "n": { "type": "string", "pattern": "^[0-9]{4}$" } }, "required": ["m", "n"], "additionalProperties": false },
                    { "type": "object", "properties": { "m": { "const": "bank" }, "i": { "type": "string" } }, "required": ["m", "i"], "additionalProperties": false },
                    { "type": "null" }
                ] }
            },
            "required": ["p"],
            "additionalProperties": false
        }),
        &[
            r#"{"p":{"m":"card","n":"1234"}}"#,
            r#"{"p":{"m":"bank","i":"x\"y"}}"#,
            r#"{"p":null}"#,
        ],
        &[
            r#"{"p":{"m":"card","i":"x"}}"#,
            r#"{"p":{"m":"bank","n":"1234"}}"#,
            r#"{"p":{"m":"card","n":"123"}}"#,
            r#"{"p":{}}"#,
        ],
    );
}

#[test]
fn one_of_branches_with_length_bounded_patterns_are_spliced() {
    // The pattern ∩ length lexeme is its own rule, spliced into the branch before the
    // disjointness check.
    check(
        json!({"oneOf": [
            { "type": "string", "pattern": "^a+$", "maxLength": 3 },
            { "type": "string", "format": "date" },
            { "type": "integer" }
        ]}),
        &["\"a\"", "\"aaa\"", "\"2020-01-31\"", "7"],
        &["\"aaaa\"", "\"\"", "\"b\"", "\"2020-01-32\"", "1.5"],
    );
    // Still refused when the branches overlap.
    assert!(Grammar::from_json_schema(
        &json!({"oneOf": [
            { "type": "string", "pattern": "^a+$", "maxLength": 3 },
            { "type": "string", "pattern": "^a$" }
        ]}),
        &CompileOptions::default()
    )
    .is_err());
}
