//! [`PartialJsonParser`]: incremental JSON parsing of generated text.

use serde_json::Number;

use crate::content::{ContentKind, GeneratedContent};
use crate::error::PartialJsonError;

/// Incremental JSON parser for streamed model output.
///
/// Feed text deltas with [`push`](Self::push) and take a
/// [`snapshot`](Self::snapshot) of the value generated so far whenever you like.
///
/// * The parser state advances once per input character: the prefix is never
///   re-parsed (an explicit stack of open containers holds the tree built so
///   far). Building a snapshot costs O(size of the tree).
/// * Snapshot semantics (chosen so that snapshots only ever *extend*):
///   - an open object/array is present with what it holds so far, marked
///     incomplete ([`GeneratedContent::is_complete`] is `false`);
///   - a string being generated is present as its prefix (incomplete);
///   - a property appears once its value has *started*; unfinished keys are not
///     shown;
///   - numbers, `true`, `false` and `null` appear only once complete (a number is
///     complete when the character after it arrives, or at
///     [`finish`](Self::finish) for a top-level number): `12` could still
///     become `123`, so it is not shown early;
///   - before anything is generated, the snapshot is an incomplete `null`.
///
/// ```
/// use trellis_schema::PartialJsonParser;
///
/// let mut p = PartialJsonParser::new();
/// p.push(r#"{"name": "Ad"#).unwrap();
/// let s = p.snapshot();
/// assert!(!s.is_complete());
/// assert_eq!(s.get("name").unwrap().as_str(), Some("Ad"));
/// p.push(r#"a", "age": 3"#).unwrap();
/// assert!(p.snapshot().get("age").is_none()); // 3 could become 36
/// p.push("6}").unwrap();
/// let done = p.finish().unwrap();
/// assert_eq!(done.to_json_string(), r#"{"name":"Ada","age":36}"#);
/// ```
#[derive(Debug, Clone, Default)]
pub struct PartialJsonParser {
    stack: Vec<Frame>,
    scalar: Scalar,
    state: State,
    root: Option<GeneratedContent>,
    offset: usize,
    steps: usize,
    error: Option<PartialJsonError>,
}

#[derive(Debug, Clone)]
enum Frame {
    Array(Vec<GeneratedContent>),
    Object {
        props: Vec<(String, GeneratedContent)>,
        key: Option<String>,
    },
}

#[derive(Debug, Clone, Default)]
enum Scalar {
    #[default]
    None,
    Str {
        buf: String,
        is_key: bool,
        esc: Escape,
        high: Option<u32>,
    },
    Num(String),
    Lit {
        word: &'static str,
        matched: usize,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Escape {
    #[default]
    None,
    Backslash,
    Unicode {
        digits: u8,
        code: u32,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum State {
    /// A value must start.
    #[default]
    Value,
    /// After `[`: a value or `]`.
    ArrayFirst,
    /// After `{`: a key or `}`.
    ObjectFirst,
    /// After `,` in an object: a key.
    ObjectKey,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    AfterValue,
    /// Inside a string (key or value).
    InString,
    /// Inside a number.
    InNumber,
    /// Inside `true` / `false` / `null`.
    InLiteral,
    /// The top-level value is complete.
    Done,
}

enum Step {
    Consumed,
    Reprocess,
}

impl PartialJsonParser {
    /// A parser at the start of a JSON document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of text.
    ///
    /// On error the parser is poisoned: later calls return
    /// [`PartialJsonError::Poisoned`]; [`snapshot`](Self::snapshot) still returns
    /// the value up to the error.
    pub fn push(&mut self, delta: &str) -> Result<(), PartialJsonError> {
        if let Some(e) = &self.error {
            return Err(PartialJsonError::Poisoned(Box::new(e.clone())));
        }
        for c in delta.chars() {
            loop {
                self.steps += 1;
                match self.step(c) {
                    Ok(Step::Consumed) => break,
                    Ok(Step::Reprocess) => continue,
                    Err(e) => {
                        self.error = Some(e.clone());
                        return Err(e);
                    }
                }
            }
            self.offset += c.len_utf8();
        }
        Ok(())
    }

    /// Number of input bytes consumed so far (equals the total length pushed).
    pub fn bytes_processed(&self) -> usize {
        self.offset
    }

    /// Number of state-machine steps taken so far: at most two per input
    /// character (a character that ends a number is looked at twice). A measure
    /// of total work, which is linear in the input length.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Whether a complete top-level value has been parsed (a top-level number
    /// only completes at [`finish`](Self::finish)).
    pub fn is_complete(&self) -> bool {
        self.root.is_some()
    }

    /// Ends the input: returns the complete value, or
    /// [`PartialJsonError::Incomplete`].
    pub fn finish(&mut self) -> Result<GeneratedContent, PartialJsonError> {
        if let Some(e) = &self.error {
            return Err(PartialJsonError::Poisoned(Box::new(e.clone())));
        }
        if self.state == State::InNumber && self.stack.is_empty() {
            let n = self.take_number()?;
            self.complete(n);
        }
        self.root.clone().ok_or(PartialJsonError::Incomplete)
    }

    /// The value generated so far (see the type docs for what is shown).
    pub fn snapshot(&self) -> GeneratedContent {
        if let Some(root) = &self.root {
            return root.clone();
        }
        let mut child: Option<GeneratedContent> = match &self.scalar {
            Scalar::Str {
                buf, is_key: false, ..
            } => Some(GeneratedContent::with_completeness(
                ContentKind::String(buf.clone()),
                false,
            )),
            _ => None,
        };
        for frame in self.stack.iter().rev() {
            let node = match frame {
                Frame::Array(items) => {
                    let mut items = items.clone();
                    items.extend(child.take());
                    ContentKind::Array(items)
                }
                Frame::Object { props, key } => {
                    let mut props = props.clone();
                    if let (Some(k), Some(c)) = (key, child.take()) {
                        props.push((k.clone(), c));
                    }
                    ContentKind::Object(props)
                }
            };
            child = Some(GeneratedContent::with_completeness(node, false));
        }
        child.unwrap_or_default()
    }

    fn unexpected(&self, c: char, expected: &'static str) -> PartialJsonError {
        PartialJsonError::Unexpected {
            offset: self.offset,
            found: c,
            expected,
        }
    }

    fn complete(&mut self, value: GeneratedContent) {
        match self.stack.last_mut() {
            None => {
                self.root = Some(value);
                self.state = State::Done;
            }
            Some(Frame::Array(items)) => {
                items.push(value);
                self.state = State::AfterValue;
            }
            Some(Frame::Object { props, key }) => {
                let k = key.take().unwrap_or_default();
                props.push((k, value));
                self.state = State::AfterValue;
            }
        }
    }

    fn take_number(&mut self) -> Result<GeneratedContent, PartialJsonError> {
        let Scalar::Num(buf) = std::mem::take(&mut self.scalar) else {
            return Err(PartialJsonError::Incomplete);
        };
        let start = self.offset - buf.len();
        let n: Number = serde_json::from_str(&buf).map_err(|_| PartialJsonError::Unexpected {
            offset: start,
            found: buf.chars().next().unwrap_or('?'),
            expected: "a valid JSON number",
        })?;
        Ok(GeneratedContent::number(n))
    }

    fn start_value(&mut self, c: char) -> Result<Step, PartialJsonError> {
        match c {
            '{' => {
                self.stack.push(Frame::Object {
                    props: Vec::new(),
                    key: None,
                });
                self.state = State::ObjectFirst;
            }
            '[' => {
                self.stack.push(Frame::Array(Vec::new()));
                self.state = State::ArrayFirst;
            }
            '"' => {
                self.scalar = Scalar::Str {
                    buf: String::new(),
                    is_key: false,
                    esc: Escape::None,
                    high: None,
                };
                self.state = State::InString;
            }
            '-' | '0'..='9' => {
                self.scalar = Scalar::Num(c.to_string());
                self.state = State::InNumber;
            }
            't' | 'f' | 'n' => {
                let word = match c {
                    't' => "true",
                    'f' => "false",
                    _ => "null",
                };
                self.scalar = Scalar::Lit { word, matched: 1 };
                self.state = State::InLiteral;
            }
            _ => return Err(self.unexpected(c, "a JSON value")),
        }
        Ok(Step::Consumed)
    }

    fn close(&mut self, c: char) -> Result<Step, PartialJsonError> {
        let frame = self.stack.pop();
        let value = match (frame, c) {
            (Some(Frame::Array(items)), ']') => GeneratedContent::array(items),
            (Some(Frame::Object { props, key: None }), '}') => GeneratedContent::object(props),
            (frame, _) => {
                if let Some(f) = frame {
                    self.stack.push(f);
                }
                return Err(self.unexpected(c, "the matching closing bracket"));
            }
        };
        self.complete(value);
        Ok(Step::Consumed)
    }

    fn step(&mut self, c: char) -> Result<Step, PartialJsonError> {
        let ws = matches!(c, ' ' | '\t' | '\n' | '\r');
        match self.state {
            State::Value => {
                if ws {
                    return Ok(Step::Consumed);
                }
                self.start_value(c)
            }
            State::ArrayFirst => {
                if ws {
                    Ok(Step::Consumed)
                } else if c == ']' {
                    self.close(c)
                } else {
                    self.start_value(c)
                }
            }
            State::ObjectFirst | State::ObjectKey => {
                if ws {
                    Ok(Step::Consumed)
                } else if c == '}' && self.state == State::ObjectFirst {
                    self.close(c)
                } else if c == '"' {
                    self.scalar = Scalar::Str {
                        buf: String::new(),
                        is_key: true,
                        esc: Escape::None,
                        high: None,
                    };
                    self.state = State::InString;
                    Ok(Step::Consumed)
                } else {
                    Err(self.unexpected(c, "a property name"))
                }
            }
            State::Colon => {
                if ws {
                    Ok(Step::Consumed)
                } else if c == ':' {
                    self.state = State::Value;
                    Ok(Step::Consumed)
                } else {
                    Err(self.unexpected(c, "`:`"))
                }
            }
            State::AfterValue => {
                if ws {
                    return Ok(Step::Consumed);
                }
                match (c, self.stack.last()) {
                    (',', Some(Frame::Array(_))) => {
                        self.state = State::Value;
                        Ok(Step::Consumed)
                    }
                    (',', Some(Frame::Object { .. })) => {
                        self.state = State::ObjectKey;
                        Ok(Step::Consumed)
                    }
                    (']' | '}', Some(_)) => self.close(c),
                    _ => Err(self.unexpected(c, "`,` or a closing bracket")),
                }
            }
            State::InString => self.string_char(c),
            State::InNumber => {
                if matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E') {
                    if let Scalar::Num(buf) = &mut self.scalar {
                        buf.push(c);
                    }
                    Ok(Step::Consumed)
                } else {
                    let n = self.take_number()?;
                    self.complete(n);
                    Ok(Step::Reprocess)
                }
            }
            State::InLiteral => {
                let Scalar::Lit { word, matched } = &mut self.scalar else {
                    return Err(self.unexpected(c, "a literal"));
                };
                let word = *word;
                if word.as_bytes().get(*matched) == Some(&(c as u32 as u8)) && c.is_ascii() {
                    *matched += 1;
                    if *matched == word.len() {
                        self.scalar = Scalar::None;
                        let v = match word {
                            "true" => GeneratedContent::bool(true),
                            "false" => GeneratedContent::bool(false),
                            _ => GeneratedContent::null(),
                        };
                        self.complete(v);
                    }
                    Ok(Step::Consumed)
                } else {
                    Err(self.unexpected(c, word))
                }
            }
            State::Done => {
                if ws {
                    Ok(Step::Consumed)
                } else {
                    Err(PartialJsonError::TrailingCharacters {
                        offset: self.offset,
                    })
                }
            }
        }
    }

    fn string_char(&mut self, c: char) -> Result<Step, PartialJsonError> {
        let offset = self.offset;
        let invalid = || PartialJsonError::InvalidEscape { offset };
        let Scalar::Str {
            buf,
            is_key,
            esc,
            high,
        } = &mut self.scalar
        else {
            return Err(invalid());
        };
        match *esc {
            Escape::None => {
                if high.is_some() && c != '\\' {
                    return Err(invalid());
                }
                match c {
                    '"' => {
                        let s = std::mem::take(buf);
                        let key = *is_key;
                        self.scalar = Scalar::None;
                        if key {
                            if let Some(Frame::Object { key, .. }) = self.stack.last_mut() {
                                *key = Some(s);
                            }
                            self.state = State::Colon;
                        } else {
                            self.complete(GeneratedContent::string(s));
                        }
                    }
                    '\\' => *esc = Escape::Backslash,
                    c if (c as u32) < 0x20 => {
                        return Err(PartialJsonError::Unexpected {
                            offset,
                            found: c,
                            expected: "an escaped control character",
                        })
                    }
                    c => buf.push(c),
                }
            }
            Escape::Backslash => {
                if high.is_some() && c != 'u' {
                    return Err(invalid());
                }
                let out = match c {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        *esc = Escape::Unicode { digits: 0, code: 0 };
                        return Ok(Step::Consumed);
                    }
                    _ => return Err(invalid()),
                };
                buf.push(out);
                *esc = Escape::None;
            }
            Escape::Unicode { digits, code } => {
                let d = c.to_digit(16).ok_or_else(invalid)?;
                let code = code * 16 + d;
                if digits < 3 {
                    *esc = Escape::Unicode {
                        digits: digits + 1,
                        code,
                    };
                } else {
                    *esc = Escape::None;
                    match (high.take(), code) {
                        (None, 0xD800..=0xDBFF) => *high = Some(code),
                        (None, 0xDC00..=0xDFFF) => return Err(invalid()),
                        (None, _) => buf.push(char::from_u32(code).ok_or_else(invalid)?),
                        (Some(h), 0xDC00..=0xDFFF) => {
                            let cp = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                            buf.push(char::from_u32(cp).ok_or_else(invalid)?);
                        }
                        (Some(_), _) => return Err(invalid()),
                    }
                }
            }
        }
        Ok(Step::Consumed)
    }
}
