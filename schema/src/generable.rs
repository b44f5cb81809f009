//! The [`Generable`] trait and its implementations for standard types.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use serde_json::{json, Value};

use crate::__private::kind;
use crate::content::GeneratedContent;
use crate::error::DecodeError;
use crate::generator::{GenerationSchema, SchemaGenerator};

/// A type a language model can generate.
///
/// A `Generable` type describes itself with a JSON Schema ([`schema`](Self::schema));
/// grammar-constrained decoding then guarantees the model's output is valid for
/// it, and [`from_content`](Self::from_content) turns that output into a value.
/// While the answer streams, [`partial_from_content`](Self::partial_from_content)
/// turns each snapshot into the [`Partial`](Self::Partial) mirror of the type.
///
/// Usually derived with `#[derive(Generable)]` (see the `trellis-macros` crate):
///
/// * named structs become objects whose `properties` are listed **in declaration
///   order, and the model generates them in that order**. Order matters for
///   quality: a small model writes better conclusions after it has written the
///   facts, so put reasoning/evidence fields first and summaries, verdicts or
///   scores last;
/// * doc comments become `description`s, `#[guide(...)]` adds constraints;
/// * enums follow serde's representations (`#[serde(tag, content, untagged)]`).
///
/// Implemented here for integers (with the exact `minimum`/`maximum` of the
/// type), floats, `bool`, `String`, `char`, `Option<T>`, `Vec<T>`, `[T; N]`,
/// `Box<T>`, `VecDeque`/`HashSet`/`BTreeSet` (arrays), string-keyed
/// `HashMap`/`BTreeMap`, tuples up to 6 elements, and
/// [`GeneratedContent`] (any JSON).
///
/// ```
/// use trellis_schema::{root_schema, Generable, GeneratedContent};
///
/// let schema = root_schema::<Vec<u8>>();
/// assert_eq!(schema.as_json()["items"]["maximum"], 255);
/// let content: GeneratedContent = "[1, 2, 3]".parse().unwrap();
/// assert_eq!(Vec::<u8>::from_content(&content).unwrap(), vec![1, 2, 3]);
/// ```
pub trait Generable: Sized {
    /// Partial mirror used while streaming: for derived types, every field is
    /// optional, recursively (`<Name>Partial`). For strings it is the prefix
    /// generated so far; for numbers and booleans the value itself (they only
    /// appear in snapshots once complete).
    type Partial: Clone + Debug + Default + PartialEq + Send;

    /// Adds what this type needs to `gen`'s `$defs` and returns the schema to use
    /// where the type appears: an inline schema, or `{"$ref": "#/$defs/Name"}`
    /// for named (possibly recursive) types.
    fn schema(gen: &mut SchemaGenerator) -> Value;

    /// Decodes a complete generated value.
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError>;

    /// Decodes a possibly incomplete value (a snapshot of the incremental parser)
    /// into the partial mirror. Never fails: what does not fit is left out.
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial;

    /// A name for this type usable in `$defs` (used to name instantiations of
    /// generic types, e.g. `Page_String`). Letters, digits and `_` only.
    ///
    /// The default derives it from [`std::any::type_name`].
    fn schema_name() -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("T")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }

    /// Which `#[guide]` keywords apply (checked at compile time by the derive
    /// when the field's syntax does not tell).
    #[doc(hidden)]
    const __GUIDE_KIND: u8 = kind::OTHER;

    /// The schema for a struct field of this type, and whether the field is
    /// required (`Option` fields are optional and use the inner schema).
    #[doc(hidden)]
    fn __field_schema(gen: &mut SchemaGenerator) -> (Value, bool) {
        (Self::schema(gen), true)
    }

    /// The value of an absent struct field, if absence is allowed.
    #[doc(hidden)]
    fn __from_missing() -> Option<Self> {
        None
    }
}

/// The full JSON Schema document (root schema + `$defs`) of `T`.
///
/// ```
/// let s = trellis_schema::root_schema::<[String; 2]>();
/// assert_eq!(s.as_json()["minItems"], 2);
/// assert_eq!(s.as_json()["maxItems"], 2);
/// ```
pub fn root_schema<T: Generable>() -> GenerationSchema {
    GenerationSchema::of::<T>()
}

macro_rules! int_impl {
    ($($t:ty),*) => {$(
        impl Generable for $t {
            type Partial = $t;
            const __GUIDE_KIND: u8 = kind::INTEGER;
            fn schema(_gen: &mut SchemaGenerator) -> Value {
                int_schema(<$t>::MIN as i128, <$t>::MAX as u128)
            }
            fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
                let n = content
                    .as_number()
                    .ok_or_else(|| DecodeError::type_mismatch("integer", content))?;
                let out_of_range = || DecodeError::OutOfRange {
                    path: "$".into(),
                    value: n.to_string(),
                    target: stringify!($t).into(),
                };
                if let Some(i) = n.as_i64() {
                    <$t>::try_from(i).map_err(|_| out_of_range())
                } else if let Some(u) = n.as_u64() {
                    <$t>::try_from(u).map_err(|_| out_of_range())
                } else if n.as_f64() == Some(0.0) {
                    // `-0` is an integer in JSON Schema; serde_json reads it as -0.0.
                    Ok(0)
                } else {
                    Err(DecodeError::type_mismatch("integer", content))
                }
            }
            fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
                Self::from_content(content).unwrap_or_default()
            }
            fn schema_name() -> String {
                stringify!($t).into()
            }
        }
    )*};
}

int_impl!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

/// Integer schema; bounds are clamped to what JSON numbers here can carry
/// (`i64::MIN ..= u64::MAX`), which only narrows `i128`/`u128`.
fn int_schema(min: i128, max: u128) -> Value {
    let min = min.max(i64::MIN as i128) as i64;
    let max = max.min(u64::MAX as u128) as u64;
    json!({"type": "integer", "minimum": min, "maximum": max})
}

macro_rules! float_impl {
    ($($t:ty),*) => {$(
        impl Generable for $t {
            type Partial = $t;
            const __GUIDE_KIND: u8 = kind::FLOAT;
            fn schema(_gen: &mut SchemaGenerator) -> Value {
                json!({"type": "number"})
            }
            fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
                let f = content
                    .as_f64()
                    .ok_or_else(|| DecodeError::type_mismatch("number", content))?;
                let v = f as $t;
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(DecodeError::OutOfRange {
                        path: "$".into(),
                        value: f.to_string(),
                        target: stringify!($t).into(),
                    })
                }
            }
            fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
                Self::from_content(content).unwrap_or_default()
            }
            fn schema_name() -> String {
                stringify!($t).into()
            }
        }
    )*};
}

float_impl!(f32, f64);

impl Generable for bool {
    type Partial = bool;
    fn schema(_gen: &mut SchemaGenerator) -> Value {
        json!({"type": "boolean"})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        content
            .as_bool()
            .ok_or_else(|| DecodeError::type_mismatch("boolean", content))
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        content.as_bool().unwrap_or_default()
    }
    fn schema_name() -> String {
        "bool".into()
    }
}

impl Generable for String {
    type Partial = String;
    const __GUIDE_KIND: u8 = kind::STRING;
    fn schema(_gen: &mut SchemaGenerator) -> Value {
        json!({"type": "string"})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        content
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| DecodeError::type_mismatch("string", content))
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        content.as_str().unwrap_or_default().to_owned()
    }
    fn schema_name() -> String {
        "String".into()
    }
}

impl Generable for char {
    /// The character, once generated.
    type Partial = Option<char>;
    const __GUIDE_KIND: u8 = kind::CHAR;
    fn schema(_gen: &mut SchemaGenerator) -> Value {
        json!({"type": "string", "minLength": 1, "maxLength": 1})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        let s = content
            .as_str()
            .ok_or_else(|| DecodeError::type_mismatch("string", content))?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => Err(DecodeError::NotAChar {
                path: "$".into(),
                found: s.into(),
            }),
        }
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        content.as_str().and_then(|s| s.chars().next())
    }
    fn schema_name() -> String {
        "char".into()
    }
}

impl<T: Generable> Generable for Option<T> {
    /// `T`'s partial; absent and `null` both give `T::Partial::default()`.
    type Partial = T::Partial;
    const __GUIDE_KIND: u8 = T::__GUIDE_KIND;
    fn schema(gen: &mut SchemaGenerator) -> Value {
        json!({"anyOf": [T::schema(gen), {"type": "null"}]})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        if content.is_null() {
            Ok(None)
        } else {
            T::from_content(content).map(Some)
        }
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        if content.is_null() {
            T::Partial::default()
        } else {
            T::partial_from_content(content)
        }
    }
    fn schema_name() -> String {
        format!("Option_{}", T::schema_name())
    }
    fn __field_schema(gen: &mut SchemaGenerator) -> (Value, bool) {
        (T::schema(gen), false)
    }
    fn __from_missing() -> Option<Self> {
        Some(None)
    }
}

impl<T: Generable> Generable for Box<T> {
    type Partial = Box<T::Partial>;
    const __GUIDE_KIND: u8 = T::__GUIDE_KIND;
    fn schema(gen: &mut SchemaGenerator) -> Value {
        T::schema(gen)
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        T::from_content(content).map(Box::new)
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        Box::new(T::partial_from_content(content))
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn __field_schema(gen: &mut SchemaGenerator) -> (Value, bool) {
        T::__field_schema(gen)
    }
    fn __from_missing() -> Option<Self> {
        T::__from_missing().map(Box::new)
    }
}

fn decode_items<T: Generable>(content: &GeneratedContent) -> Result<Vec<T>, DecodeError> {
    let items = content
        .as_array()
        .ok_or_else(|| DecodeError::type_mismatch("array", content))?;
    items
        .iter()
        .enumerate()
        .map(|(i, c)| T::from_content(c).map_err(|e| e.in_index(i)))
        .collect()
}

fn partial_items<T: Generable>(content: &GeneratedContent) -> Vec<T::Partial> {
    content
        .as_array()
        .map(|items| items.iter().map(T::partial_from_content).collect())
        .unwrap_or_default()
}

impl<T: Generable> Generable for Vec<T> {
    /// The elements generated so far (the last one possibly incomplete).
    type Partial = Vec<T::Partial>;
    const __GUIDE_KIND: u8 = kind::ARRAY;
    fn schema(gen: &mut SchemaGenerator) -> Value {
        json!({"type": "array", "items": T::schema(gen)})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        decode_items(content)
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        partial_items::<T>(content)
    }
    fn schema_name() -> String {
        format!("Vec_{}", T::schema_name())
    }
}

impl<T: Generable, const N: usize> Generable for [T; N] {
    /// The elements generated so far.
    type Partial = Vec<T::Partial>;
    const __GUIDE_KIND: u8 = kind::ARRAY;
    fn schema(gen: &mut SchemaGenerator) -> Value {
        json!({"type": "array", "items": T::schema(gen), "minItems": N, "maxItems": N})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        let v = decode_items::<T>(content)?;
        let found = v.len();
        v.try_into().map_err(|_| DecodeError::WrongLength {
            path: "$".into(),
            expected: N,
            found,
        })
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        partial_items::<T>(content)
    }
    fn schema_name() -> String {
        format!("Array{N}_{}", T::schema_name())
    }
}

macro_rules! seq_impl {
    ($seq:ident, $name:literal, $($bound:path),*) => {
        /// Generated as a JSON array (the schema cannot require unique items: for
        /// sets, duplicates collapse when decoding).
        impl<T: Generable $(+ $bound)*> Generable for std::collections::$seq<T> {
            /// The elements generated so far.
            type Partial = Vec<T::Partial>;
            const __GUIDE_KIND: u8 = kind::ARRAY;
            fn schema(gen: &mut SchemaGenerator) -> Value {
                json!({"type": "array", "items": T::schema(gen)})
            }
            fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
                decode_items::<T>(content).map(|v| v.into_iter().collect())
            }
            fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
                partial_items::<T>(content)
            }
            fn schema_name() -> String {
                format!("{}_{}", $name, T::schema_name())
            }
        }
    };
}

seq_impl!(VecDeque, "VecDeque",);
seq_impl!(BTreeSet, "BTreeSet", Ord);
seq_impl!(HashSet, "HashSet", Eq, std::hash::Hash);

macro_rules! map_impl {
    ($map:ident, $($bound:path),*) => {
        impl<T: Generable> Generable for $map<String, T>
        where
            T::Partial: $($bound +)*,
        {
            /// The entries generated so far.
            type Partial = $map<String, T::Partial>;
            fn schema(gen: &mut SchemaGenerator) -> Value {
                json!({"type": "object", "additionalProperties": T::schema(gen)})
            }
            fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
                let props = content
                    .properties()
                    .ok_or_else(|| DecodeError::type_mismatch("object", content))?;
                props
                    .map(|(k, v)| Ok((k.to_owned(), T::from_content(v).map_err(|e| e.in_field(k))?)))
                    .collect()
            }
            fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
                content
                    .properties()
                    .map(|props| {
                        props
                            .map(|(k, v)| (k.to_owned(), T::partial_from_content(v)))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            fn schema_name() -> String {
                format!("{}_{}", stringify!($map), T::schema_name())
            }
        }
    };
}

map_impl!(HashMap, Send);
map_impl!(BTreeMap, Send);

macro_rules! tuple_impl {
    ($n:literal; $($t:ident $i:tt),+) => {
        impl<$($t: Generable),+> Generable for ($($t,)+) {
            /// Each element once generated.
            type Partial = ($(Option<$t::Partial>,)+);
            fn schema(gen: &mut SchemaGenerator) -> Value {
                json!({
                    "type": "array",
                    "prefixItems": [$($t::schema(gen)),+],
                    "minItems": $n,
                    "maxItems": $n,
                })
            }
            fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
                let items = content
                    .as_array()
                    .ok_or_else(|| DecodeError::type_mismatch("array", content))?;
                if items.len() != $n {
                    return Err(DecodeError::WrongLength { path: "$".into(), expected: $n, found: items.len() });
                }
                Ok(($($t::from_content(&items[$i]).map_err(|e| e.in_index($i))?,)+))
            }
            fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
                let items = content.as_array().unwrap_or(&[]);
                ($(items.get($i).map($t::partial_from_content),)+)
            }
            fn schema_name() -> String {
                let parts: Vec<String> = vec![$($t::schema_name()),+];
                format!("Tuple_{}", parts.join("_"))
            }
        }
    };
}

tuple_impl!(1; A 0);
tuple_impl!(2; A 0, B 1);
tuple_impl!(3; A 0, B 1, C 2);
tuple_impl!(4; A 0, B 1, C 2, D 3);
tuple_impl!(5; A 0, B 1, C 2, D 3, E 4);
tuple_impl!(6; A 0, B 1, C 2, D 3, E 4, F 5);

impl Generable for GeneratedContent {
    /// The snapshot itself.
    type Partial = GeneratedContent;
    fn schema(_gen: &mut SchemaGenerator) -> Value {
        json!({})
    }
    fn from_content(content: &GeneratedContent) -> Result<Self, DecodeError> {
        Ok(content.clone())
    }
    fn partial_from_content(content: &GeneratedContent) -> Self::Partial {
        content.clone()
    }
    fn schema_name() -> String {
        "GeneratedContent".into()
    }
}
