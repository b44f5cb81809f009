extern crate trellis_schema as trellis;

mod common;

use common::validator;
use serde_json::json;
use trellis::{DynamicProperty, DynamicSchema, GenerationSchema, SchemaError};

fn person() -> DynamicSchema {
    DynamicSchema::object(vec![
        DynamicProperty::new("name", DynamicSchema::string().length(1, 40))
            .description("Full name"),
        DynamicProperty::new("age", DynamicSchema::integer().range(0.0, 150.0)),
        DynamicProperty::new("height", DynamicSchema::number().minimum(0.5)).optional(),
        DynamicProperty::new(
            "pets",
            DynamicSchema::array(DynamicSchema::reference("Pet")).count(2),
        ),
        DynamicProperty::new("best_friend", DynamicSchema::reference("Person")).optional(),
    ])
    .named("Person")
    .description("Someone")
}

fn pet() -> DynamicSchema {
    DynamicSchema::object(vec![
        DynamicProperty::new("kind", DynamicSchema::choices(["cat", "dog"])),
        DynamicProperty::new("born", DynamicSchema::string().format("date")),
        DynamicProperty::new("chip", DynamicSchema::string().pattern("^[0-9]{4}$")).optional(),
    ])
    .named("Pet")
}

#[test]
fn builds_ordered_schema_with_defs() {
    let s = GenerationSchema::from_dynamic(&person(), &[pet()]).unwrap();
    let expected = json!({
        "$ref": "#/$defs/Person",
        "$defs": {
            "Pet": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["cat", "dog"]},
                    "born": {"type": "string", "format": "date"},
                    "chip": {"type": "string", "pattern": "^[0-9]{4}$"}
                },
                "required": ["kind", "born"],
                "additionalProperties": false
            },
            "Person": {
                "description": "Someone",
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 40, "description": "Full name"},
                    "age": {"type": "integer", "minimum": 0, "maximum": 150},
                    "height": {"type": "number", "minimum": 0.5},
                    "pets": {"type": "array", "items": {"$ref": "#/$defs/Pet"}, "minItems": 2, "maxItems": 2},
                    "best_friend": {"$ref": "#/$defs/Person"}
                },
                "required": ["name", "age", "pets"],
                "additionalProperties": false
            }
        }
    });
    assert_eq!(s.as_json(), &expected, "{}", s.to_json_string_pretty());
    let keys: Vec<&String> = s.as_json()["$defs"]["Person"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["name", "age", "height", "pets", "best_friend"]);

    let v = validator(s.as_json());
    let ok = json!({
        "name": "Ada", "age": 36,
        "pets": [{"kind": "cat", "born": "2020-01-01"}, {"kind": "dog", "born": "2021-05-05", "chip": "1234"}],
        "best_friend": {"name": "Bob", "age": 40, "pets": [{"kind": "cat", "born": "2020-01-01"}, {"kind": "cat", "born": "2020-01-02"}]}
    });
    assert!(v.is_valid(&ok));
    let mut bad = ok.clone();
    bad["pets"][0]["kind"] = json!("cow");
    assert!(!v.is_valid(&bad));
    let mut bad = ok.clone();
    bad["pets"].as_array_mut().unwrap().pop();
    assert!(!v.is_valid(&bad));
    let mut bad = ok;
    bad["age"] = json!(151);
    assert!(!v.is_valid(&bad));
}

#[test]
fn unnamed_root_is_inline() {
    let root = DynamicSchema::array(DynamicSchema::boolean())
        .min_count(1)
        .max_count(3);
    let s = GenerationSchema::from_dynamic(&root, &[]).unwrap();
    assert_eq!(
        s.as_json(),
        &json!({"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 3})
    );
    let any = DynamicSchema::any_of(vec![DynamicSchema::integer(), DynamicSchema::null()]);
    let s = GenerationSchema::from_dynamic(&any, &[]).unwrap();
    assert_eq!(
        s.as_json(),
        &json!({"anyOf": [{"type": "integer"}, {"type": "null"}]})
    );
    validator(s.as_json());
}

#[test]
fn dangling_references_are_errors() {
    let err = GenerationSchema::from_dynamic(&person(), &[]).unwrap_err();
    assert_eq!(err, SchemaError::UnresolvedReference { name: "Pet".into() });
    let lone = DynamicSchema::array(DynamicSchema::reference("Nope"));
    assert_eq!(
        GenerationSchema::from_dynamic(&lone, &[pet()]).unwrap_err(),
        SchemaError::UnresolvedReference {
            name: "Nope".into()
        }
    );
}

#[test]
fn misuse_is_reported() {
    let check = |s: DynamicSchema, deps: &[DynamicSchema]| {
        GenerationSchema::from_dynamic(&s, deps).unwrap_err()
    };
    assert_eq!(
        check(DynamicSchema::integer().pattern("a"), &[]),
        SchemaError::InapplicableGuide {
            guide: "pattern".into(),
            kind: "integer".into()
        }
    );
    assert_eq!(
        check(DynamicSchema::string().range(1.0, 2.0), &[]),
        SchemaError::InapplicableGuide {
            guide: "minimum".into(),
            kind: "string".into()
        }
    );
    assert!(matches!(
        check(DynamicSchema::integer().range(5.0, 1.0), &[]),
        SchemaError::InvalidBounds { .. }
    ));
    assert!(matches!(
        check(
            DynamicSchema::array(DynamicSchema::string())
                .min_count(3)
                .max_count(1),
            &[]
        ),
        SchemaError::InvalidBounds { .. }
    ));
    assert!(matches!(
        check(DynamicSchema::string().pattern("(unclosed"), &[]),
        SchemaError::InvalidPattern { .. }
    ));
    assert!(matches!(
        check(DynamicSchema::string().format("colour"), &[]),
        SchemaError::UnsupportedFormat { .. }
    ));
    assert!(matches!(
        check(DynamicSchema::choices(Vec::<String>::new()), &[]),
        SchemaError::EmptyChoices { .. }
    ));
    assert!(matches!(
        check(DynamicSchema::number().minimum(f64::NAN), &[]),
        SchemaError::NonFinite { .. }
    ));
    assert_eq!(
        check(DynamicSchema::boolean(), &[DynamicSchema::string()]),
        SchemaError::UnnamedDependency
    );
    assert_eq!(
        check(DynamicSchema::reference("Pet"), &[pet(), pet()]),
        SchemaError::DuplicateDefinition { name: "Pet".into() }
    );
    assert_eq!(
        check(
            DynamicSchema::object(vec![
                DynamicProperty::new("a", DynamicSchema::string()),
                DynamicProperty::new("a", DynamicSchema::string()),
            ]),
            &[]
        ),
        SchemaError::DuplicateProperty { name: "a".into() }
    );
    assert!(matches!(
        check(DynamicSchema::raw(json!(3)), &[]),
        SchemaError::Invalid(_)
    ));
}

#[test]
fn raw_json_schemas() {
    let s = GenerationSchema::from_json(json!({
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}, "self": {"$ref": "#"}},
        "$defs": {"A": {"type": "string"}}
    }))
    .unwrap();
    assert_eq!(s.definitions().unwrap().len(), 1);
    assert_eq!(
        GenerationSchema::from_json(json!({"items": {"$ref": "#/$defs/B"}})).unwrap_err(),
        SchemaError::UnresolvedReference { name: "B".into() }
    );
    assert_eq!(
        GenerationSchema::from_json(json!({"$ref": "http://example.com/s.json"})).unwrap_err(),
        SchemaError::UnresolvedReference {
            name: "http://example.com/s.json".into()
        }
    );
    // `$ref`-looking data inside `const`/`enum` is not a reference.
    assert!(GenerationSchema::from_json(json!({"const": {"$ref": "#/nowhere"}})).is_ok());
    assert!(matches!(
        GenerationSchema::from_json(json!("string")),
        Err(SchemaError::Invalid(_))
    ));
    assert!(GenerationSchema::from_json_str("{not json").is_err());
    assert_eq!(
        GenerationSchema::from_json(json!(true)).unwrap().as_json(),
        &json!({})
    );
    // Raw fragments inside dynamic schemas must resolve too.
    let frag = DynamicSchema::raw(json!({"type": "array", "items": {"$ref": "#/$defs/Pet"}}));
    assert!(GenerationSchema::from_dynamic(&frag, &[pet()]).is_ok());
    assert!(GenerationSchema::from_dynamic(&frag, &[]).is_err());
}
