//! Matcher behaviour on small vocabularies: masks are exact (cross-checked against
//! `consume` and `Grammar::accepts`), EOS only when accepting, rollback, forced bytes,
//! vocabulary conventions (SentencePiece, byte-level BPE).

use serde_json::json;
use std::sync::Arc;
use trellis_grammar::*;

/// Every 1-byte printable token, some 2-byte pairs, and multi-byte JSON-ish tokens.
fn small_vocab() -> Vocabulary {
    let mut toks: Vec<Option<Vec<u8>>> = vec![None, None]; // 0 = eos, 1 = control
    for b in 0x20u8..0x7f {
        toks.push(Some(vec![b]));
    }
    for s in [
        "{\"", "\":", "\",\"", "\"}", "true", "false", "null", "12", "-1", "0.", "e+", "\\u00",
        "\\n", "name", "\":\"", "},{", "[]", "{}", "]}", "\"a", "ab", "é", "日本", "\n", "  ",
        "\t", "1,", ",\"", "\"]", "[{\"", "\":[",
    ] {
        toks.push(Some(s.as_bytes().to_vec()));
    }
    toks.push(Some(vec![0xC3])); // first byte of é: a partial UTF-8 token
    toks.push(Some(vec![0xA9]));
    toks.push(Some(vec![0xFF])); // never valid
    Vocabulary::from_token_bytes(toks, &[0]).unwrap()
}

fn exact_masks(schema: serde_json::Value, opts: CompileOptions, docs: &[&str]) {
    exact_masks_in(small_vocab(), schema, opts, docs)
}

fn exact_masks_in(
    vocab: Vocabulary,
    schema: serde_json::Value,
    opts: CompileOptions,
    docs: &[&str],
) {
    let g = Arc::new(Grammar::from_json_schema(&schema, &opts).unwrap());
    let v = Arc::new(vocab);
    let tg = Arc::new(TokenizedGrammar::new(g.clone(), v.clone()));
    for doc in docs {
        assert_eq!(g.accepts(doc.as_bytes()), Ok(()), "{doc}");
        let mut m = tg.matcher();
        let mut mask = TokenMask::new(v.len());
        let mut pos = 0;
        let bytes = doc.as_bytes();
        loop {
            m.compute_mask(&mut mask);
            for t in 0..v.len() as u32 {
                let allowed = mask.is_allowed(t);
                let consumable = m.consume(t).is_ok();
                if consumable {
                    m.rollback(1).unwrap();
                }
                assert_eq!(allowed, consumable, "token {t} at {doc:?}[..{pos}]");
                if let Some(tb) = v.token_bytes(t) {
                    let mut p = bytes[..pos].to_vec();
                    p.extend_from_slice(tb);
                    let prefix_ok = match g.accepts(&p) {
                        Ok(()) => true,
                        Err(r) => r.offset == p.len(),
                    };
                    assert_eq!(allowed, prefix_ok, "token {t} vs accepts at {pos}");
                } else if t == 0 {
                    assert_eq!(allowed, m.is_accepting());
                } else {
                    assert!(!allowed, "control token allowed");
                }
            }
            if pos == bytes.len() {
                assert!(mask.is_allowed(0) && m.is_accepting());
                m.consume(0).unwrap();
                assert!(m.is_finished());
                assert_eq!(m.consume(5), Err(MatchError::AlreadyFinished));
                break;
            }
            // advance by the longest allowed token that matches the document
            let mut best: Option<(u32, usize)> = None;
            for t in 1..v.len() as u32 {
                if let Some(tb) = v.token_bytes(t) {
                    if bytes[pos..].starts_with(tb) && best.is_none_or(|(_, l)| tb.len() > l) {
                        best = Some((t, tb.len()));
                    }
                }
            }
            let (t, l) = best.expect("document not tokenizable");
            assert!(mask.is_allowed(t));
            m.consume(t).unwrap();
            pos += l;
        }
    }
}

#[test]
fn mask_exact_object() {
    exact_masks(
        json!({"type":"object","properties":{"name":{"type":"string","maxLength":4},"n":{"type":"integer","minimum":-3,"maximum":120},
               "tags":{"type":"array","items":{"enum":["ab","é"]},"maxItems":2}},"required":["name"],"additionalProperties":false}),
        CompileOptions::default(),
        &[
            r#"{"name":"ab","n":12,"tags":["ab","é"]}"#,
            r#"{"name":"\n","n":-1}"#,
        ],
    );
}

#[test]
fn mask_exact_recursive_and_whitespace() {
    let opts = CompileOptions {
        whitespace: Whitespace::Bounded { max_run: 2 },
        ..Default::default()
    };
    exact_masks(
        json!({"$defs":{"node":{"type":"object","properties":{"v":{"type":"number"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},
               "required":["v"],"additionalProperties":false}},"$ref":"#/$defs/node"}),
        opts,
        &[
            r#"{"v": 1.5e+3, "kids": [{"v":-1,"kids":[]}, {"v":0}]}"#,
            r#"{"v":12}"#,
        ],
    );
}

#[test]
fn mask_exact_anyof_pattern_free_object() {
    exact_masks(
        json!({"anyOf":[{"type":"string","pattern":"^a+b?$"},{"type":"null"},{"type":"object","additionalProperties":{"type":"boolean"}}]}),
        CompileOptions::default(),
        &[r#""aab""#, "null", r#"{"x":true,"日本":false}"#],
    );
}

#[test]
fn rollback_restores_masks() {
    let g = Arc::new(
        Grammar::from_json_schema(
            &json!({"type":"array","items":{"type":"integer"}}),
            &CompileOptions::default(),
        )
        .unwrap(),
    );
    let v = Arc::new(small_vocab());
    let tg = Arc::new(TokenizedGrammar::new(g, v.clone()));
    let mut m = tg.matcher();
    let id = |s: &str| {
        (0..v.len() as u32)
            .find(|&t| v.token_bytes(t) == Some(s.as_bytes()))
            .unwrap()
    };
    let mut before = TokenMask::new(v.len());
    m.consume(id("[")).unwrap();
    m.compute_mask(&mut before);
    m.consume(id("12")).unwrap();
    m.consume(id(",")).unwrap();
    assert!(m.consume(id("]")).is_err());
    m.rollback(2).unwrap();
    let mut after = TokenMask::new(v.len());
    m.compute_mask(&mut after);
    assert_eq!(before, after);
    assert_eq!(
        m.rollback(5),
        Err(MatchError::RollbackTooFar {
            requested: 5,
            available: 1
        })
    );
    assert!(matches!(
        m.consume(9999),
        Err(MatchError::UnknownToken { token: 9999, .. })
    ));
    assert!(matches!(
        m.consume(1),
        Err(MatchError::TokenNotAllowed { token: 1 })
    ));
    assert!(matches!(
        m.consume(0),
        Err(MatchError::TokenNotAllowed { token: 0 })
    ));
    m.reset();
    assert_eq!(m.steps(), 0);
}

#[test]
fn forced_bytes_and_consume_bytes() {
    let schema = json!({"type":"object","properties":{"name":{"const":"trellis"},"ok":{"type":"boolean"}},"required":["name","ok"],"additionalProperties":false});
    let g = Arc::new(Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap());
    let tg = Arc::new(TokenizedGrammar::new(g, Arc::new(small_vocab())));
    let mut m = tg.matcher();
    assert_eq!(m.forced_bytes(), br#"{"name":"trellis","ok":"#.to_vec());
    m.consume_bytes(br#"{"name":"trellis","ok":t"#).unwrap();
    assert_eq!(m.forced_bytes(), b"rue}".to_vec());
    assert_eq!(
        m.consume_bytes(b"x"),
        Err(MatchError::BytesRejected { offset: 0 })
    );
    m.consume_bytes(b"rue}").unwrap();
    assert!(m.is_accepting() && m.is_finished());
    assert!(m.forced_bytes().is_empty());
}

#[test]
fn sentencepiece_vocab_conventions() {
    let pieces: Vec<String> = [
        "<pad>",
        "<eos>",
        "<bos>",
        "▁",
        "{\"",
        "a",
        "▁b",
        "\":",
        "\"}",
        "<0x0A>",
        "<0x22>",
        "\n",
        "<unused0>",
        "<unk>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    use TokenType::*;
    let types = [
        Control,
        Control,
        Control,
        Normal,
        Normal,
        Normal,
        Normal,
        Normal,
        Normal,
        Byte,
        Byte,
        UserDefined,
        Unused,
        Unknown,
    ];
    let v = Vocabulary::from_sentencepiece(&pieces, &types, &[1]).unwrap();
    assert_eq!(v.token_bytes(3), Some(&b" "[..]));
    assert_eq!(v.token_bytes(6), Some(&b" b"[..]));
    assert_eq!(v.token_bytes(9), Some(&b"\n"[..]));
    assert_eq!(v.token_bytes(11), Some(&b"\n"[..]));
    assert_eq!(v.token_bytes(12), None);
    assert_eq!(v.eos_tokens(), &[1]);
    let schema = json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false});
    let opts = CompileOptions {
        whitespace: Whitespace::Bounded { max_run: 1 },
        ..Default::default()
    };
    let g = Arc::new(Grammar::from_json_schema(&schema, &opts).unwrap());
    let tg = Arc::new(TokenizedGrammar::new(g, Arc::new(v)));
    let mut m = tg.matcher();
    let mut mask = TokenMask::new(14);
    m.compute_mask(&mut mask);
    let allowed: Vec<u32> = (0..14).filter(|&t| mask.is_allowed(t)).collect();
    assert_eq!(allowed, vec![4]); // `{"` only; no control token, no space before the value
    for t in [4, 5, 7, 3, 10, 6, 10] {
        // {"a": "" b"  -> {"a": "\"" ... just drive a valid path
        if t == 10 { /* '"' byte token */ }
        m.consume(t).unwrap_or_else(|e| panic!("token {t}: {e}"));
        if m.is_accepting() {
            break;
        }
    }
    // {"a": " b"  then need `}`
    m.compute_mask(&mut mask);
    assert!(!mask.is_allowed(1), "EOS before the object is closed");
    m.consume_bytes(b"}").unwrap();
    m.compute_mask(&mut mask);
    assert!(mask.is_allowed(1));
    for t in [0, 2, 12, 13] {
        assert!(!mask.is_allowed(t));
    }
}

#[test]
fn byte_level_bpe_vocab() {
    let pieces: Vec<String> = ["<|end|>", "[", "Ġ", "1", ",Ġ", "]", "Ċ", "Ã©"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    use TokenType::*;
    let types = [
        Control, Normal, Normal, Normal, Normal, Normal, Normal, Normal,
    ];
    let v = Vocabulary::from_byte_level_bpe(&pieces, &types, &[0]).unwrap();
    assert_eq!(v.token_bytes(4), Some(&b", "[..]));
    assert_eq!(v.token_bytes(7), Some("é".as_bytes()));
    let opts = CompileOptions {
        whitespace: Whitespace::Bounded { max_run: 1 },
        ..Default::default()
    };
    let g = Arc::new(
        Grammar::from_json_schema(&json!({"type":"array","items":{"type":"integer"}}), &opts)
            .unwrap(),
    );
    let tg = Arc::new(TokenizedGrammar::new(g, Arc::new(v)));
    let mut m = tg.matcher();
    for t in [1, 3, 4, 3, 5] {
        m.consume(t).unwrap();
    }
    assert!(m.is_accepting());
    let mut mask = TokenMask::new(8);
    m.compute_mask(&mut mask);
    assert_eq!(
        (0..8).filter(|&t| mask.is_allowed(t)).collect::<Vec<_>>(),
        vec![0]
    );
}

#[test]
fn pathological_schemas_fail_fast() {
    use std::time::Instant;
    let mut defs = serde_json::Map::new();
    for i in 0..40 {
        defs.insert(format!("d{i}"), json!({"type":"array","prefixItems":[{"$ref":format!("#/$defs/d{}", i + 1)},{"$ref":format!("#/$defs/d{}", i + 1)}]}));
    }
    defs.insert("d40".into(), json!({"type":"integer"}));
    let schema = json!({"$defs": defs, "$ref": "#/$defs/d0"});
    let t = Instant::now();
    let e = Grammar::from_json_schema(&schema, &CompileOptions::default()).unwrap_err();
    assert!(matches!(e, CompileError::LimitExceeded { .. }), "{e}");
    assert!(t.elapsed().as_secs_f64() < 60.0, "hang detector");

    let t = Instant::now();
    let e = Grammar::from_json_schema(
        &json!({"type":"string","pattern":"[a-z]{1,50}x[a-z]{1,50}","maxLength":3000}),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CompileError::LimitExceeded { .. }), "{e}");
    assert!(t.elapsed().as_secs_f64() < 60.0, "hang detector");

    let e = Grammar::from_json_schema(
        &json!({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CompileError::Invalid { .. }), "{e}");
}

#[test]
fn nesting_depth_limit_bounds_recursion() {
    let schema =
        json!({"$defs":{"l":{"type":"array","items":{"$ref":"#/$defs/l"}}},"$ref":"#/$defs/l"});
    let mut opts = CompileOptions::default();
    opts.limits.max_nesting_depth = 4;
    let g = Grammar::from_json_schema(&schema, &opts).unwrap();
    assert!(g.accepts(b"[[[]]]").is_ok());
    assert!(g.accepts(b"[[[[[[[[]]]]]]]]").is_err());
}

#[test]
fn mask_exact_free_strings() {
    exact_masks(
        json!({"type":"array","items":{"type":"string"}}),
        CompileOptions::default(),
        &[r#"["日本 ab","\n","é\u00e9","name"]"#, "[]"],
    );
}

#[test]
fn mask_exact_counted_string() {
    exact_masks(
        json!({"type":"array","items":{"type":"string","minLength":3,"maxLength":10},"maxItems":3}),
        CompileOptions::default(),
        &[
            r#"["日本 ab","\n\n\n\n\n\n\n\n\n\n","éé\u00e9"]"#,
            r#"["abc"]"#,
        ],
    );
}

/// Pattern and format strings whose states accept whole ASCII classes (letters and digits,
/// lowercase and digits) under a length cap: the bulk class slices must stay exact.
#[test]
fn mask_exact_pattern_class_slices() {
    exact_masks(
        json!({
            "type": "object",
            "properties": {
                "slug": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 12},
                "code": {"type": "string", "pattern": "^[A-Z]{2}[a-z0-9]{0,3}$"},
                "mail": {"type": "string", "format": "email"},
                "tag": {"type": "string", "minLength": 2, "maxLength": 5}
            },
            "required": ["slug", "code", "mail", "tag"],
            "additionalProperties": false
        }),
        CompileOptions::default(),
        &[
            r#"{"slug":"ab-12-name","code":"ABab1","mail":"name.ab@true.ab","tag":"ab12"}"#,
            r#"{"slug":"true","code":"XY","mail":"a@b","tag":"日本"}"#,
        ],
    );
}

/// `small_vocab` plus hundreds of tokens that close a string and go on into the caller
/// (`a","b`, `x"]`, ...): more stack-dependent tokens than the per-state cache keeps, so
/// masks inside strings take the walk with the real stack.
#[test]
fn mask_exact_with_many_stack_dependent_tokens() {
    let mut toks: Vec<Option<Vec<u8>>> = (0..small_vocab().len() as u32)
        .map(|t| small_vocab().token_bytes(t).map(<[u8]>::to_vec))
        .collect();
    for a in ["a", "b", "x", "1", "", "é"] {
        for tail in ["\",\"", "\"]", "\"}", "\",", "\":", "\"],\"", "\"}]"] {
            for n in 0..12 {
                toks.push(Some(format!("{a}{tail}{}", "k".repeat(n)).into_bytes()));
            }
        }
    }
    let vocab = Vocabulary::from_token_bytes(toks, &[0]).unwrap();
    exact_masks_in(
        vocab,
        json!({
            "type": "object",
            "properties": {
                "k": { "type": "array", "items": { "type": "string" } },
                "e": { "enum": (0..20).map(|i| format!("a{i}")).collect::<Vec<_>>() }
            },
            "required": ["k", "e"],
            "additionalProperties": false
        }),
        CompileOptions::default(),
        &[r#"{"k":["a","b","kk"],"e":"a7"}"#, r#"{"k":[],"e":"a19"}"#],
    );
}

/// A large object (built directly as a key trie per position) whose values mix spliced
/// lexemes and calls (numbers are not prefix-free, so they stay calls).
#[test]
fn mask_exact_large_object() {
    let mut props = serde_json::Map::new();
    for (i, s) in [
        json!({"type": "integer", "minimum": 1}),
        json!({"type": "string"}),
        json!({"enum": ["ab", "b"]}),
        json!({"type": "boolean"}),
        json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": false}),
        json!({"type": ["string", "null"]}),
        json!({"const": 12}),
    ]
    .iter()
    .cycle()
    .take(13)
    .enumerate()
    {
        props.insert(format!("n{i}"), s.clone());
    }
    exact_masks(
        json!({
            "type": "object",
            "properties": props,
            "required": ["n0", "n4", "n9"],
            "additionalProperties": false
        }),
        CompileOptions::default(),
        &[
            r#"{"n0":12,"n4":{"a":-1},"n9":"ab"}"#,
            r#"{"n0":1,"n1":"é","n2":"b","n3":true,"n4":{"a":0},"n5":null,"n6":12,"n9":"b","n12":null}"#,
        ],
    );
}

/// A large `enum` (a literal trie whose first mask is computed by `TokenizedGrammar::new`)
/// spliced into an object, and the same set as a `oneOf` branch.
#[test]
fn mask_exact_large_enum_precomputed() {
    let words: Vec<String> = (0..90)
        .map(|i| format!("{}{}", ["ab", "a", "name", "b"][i % 4], i))
        .chain(["ab".to_owned(), "true".to_owned()])
        .collect();
    exact_masks(
        json!({
            "type": "object",
            "properties": {
                "p": {"enum": words},
                "q": {"oneOf": [{"enum": words}, {"type": "integer"}]}
            },
            "required": ["p", "q"],
            "additionalProperties": false
        }),
        CompileOptions::default(),
        &[
            r#"{"p":"ab","q":12}"#,
            r#"{"p":"name2","q":"b87"}"#,
            r#"{"p":"true","q":"ab"}"#,
        ],
    );
    // The enum alone at the root.
    exact_masks(
        json!({"enum": words}),
        CompileOptions::default(),
        &[r#""a1""#, r#""ab""#],
    );
}

/// `email` and `hostname` (DFAs built directly, spliced into the object) and in a `oneOf`.
#[test]
fn mask_exact_email_and_hostname() {
    exact_masks(
        json!({
            "type": "object",
            "properties": {
                "e": {"type": "string", "format": "email"},
                "h": {"type": "string", "format": "hostname"},
                "o": {"oneOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
                "l": {"type": "string", "format": "email", "maxLength": 6}
            },
            "required": ["e", "h"],
            "additionalProperties": false
        }),
        CompileOptions::default(),
        &[
            r#"{"e":"a.b@name-1.ab","h":"ab"}"#,
            r#"{"e":"{a}@x","h":"a-b.c","o":"ab@ab","l":"a@b.c"}"#,
            r#"{"e":"n@a","h":"a","o":null}"#,
        ],
    );
    let g = Grammar::from_json_schema(
        &json!({"type": "string", "format": "hostname"}),
        &CompileOptions::default(),
    )
    .unwrap();
    let long = format!("\"{}\"", "a".repeat(30));
    assert_eq!(g.accepts(long.as_bytes()), Ok(()));
    let too_long = format!("\"{}\"", "a".repeat(31));
    assert!(g.accepts(too_long.as_bytes()).is_err());
    assert!(g.accepts(br#""a.b.c.d.e.f.g.h""#).is_ok());
    assert!(g.accepts(br#""a.b.c.d.e.f.g.h.i""#).is_err());
    assert!(g.accepts(br#""a-.b""#).is_err());
}
