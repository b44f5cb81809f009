//! `#[guide(...)]`: parsing, type checking against the field's syntax, emission.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, ExprRange, GenericArgument, Ident, Lit, LitStr, PathArguments, RangeLimits,
    Result, Token, Type, UnOp,
};

const FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "email",
    "uuid",
    "uri",
    "ipv4",
    "ipv6",
    "hostname",
    "duration",
];

#[derive(Clone, Copy, Debug)]
pub enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// A guide value with the span of the tokens it came from.
#[derive(Clone)]
pub struct At<T> {
    pub value: T,
    /// Span of the value tokens.
    pub span: Span,
    /// Span of the guide's key (`range`, `count`, ...).
    pub key: Span,
}

#[derive(Clone, Default)]
pub struct Guides {
    pub description: Option<At<String>>,
    pub minimum: Option<At<Num>>,
    pub maximum: Option<At<Num>>,
    pub exclusive_maximum: Option<At<Num>>,
    pub min_count: Option<At<u64>>,
    pub max_count: Option<At<u64>>,
    pub min_length: Option<At<u64>>,
    pub max_length: Option<At<u64>>,
    pub pattern: Option<At<String>>,
    pub any_of: Option<At<Vec<String>>>,
    pub constant: Option<At<String>>,
    pub format: Option<At<String>>,
    pub element: Option<At<Box<Guides>>>,
}

fn err<T>(span: Span, msg: impl std::fmt::Display) -> Result<T> {
    Err(syn::Error::new(span, msg))
}

fn num(e: &Expr) -> Result<Num> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Ok(Num::Int(i.base10_parse()?)),
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => Ok(Num::Float(f.base10_parse()?)),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => match num(&u.expr)? {
            Num::Int(i) => Ok(Num::Int(-i)),
            Num::Float(f) => Ok(Num::Float(-f)),
        },
        Expr::Group(g) => num(&g.expr),
        Expr::Paren(p) => num(&p.expr),
        _ => err(e.span(), "expected a number literal"),
    }
}

fn count(e: &Expr) -> Result<u64> {
    match num(e)? {
        Num::Int(i) if i >= 0 && i <= u64::MAX as i128 => Ok(i as u64),
        _ => err(e.span(), "expected a non-negative integer literal"),
    }
}

fn lit_str(e: &Expr) -> Result<String> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        _ => err(e.span(), "expected a string literal"),
    }
}

type Bound = Option<(u64, Span)>;

/// `n`, `a..=b`, `a..b`, `a..`, `..=b` as inclusive count bounds.
fn count_bounds(e: &Expr) -> Result<(Bound, Bound)> {
    match e {
        Expr::Range(ExprRange {
            start, limits, end, ..
        }) => {
            let lo = start
                .as_deref()
                .map(|s| Ok::<_, syn::Error>((count(s)?, s.span())))
                .transpose()?;
            let hi = match (end.as_deref(), limits) {
                (None, _) => None,
                (Some(h), RangeLimits::Closed(_)) => Some((count(h)?, h.span())),
                (Some(h), RangeLimits::HalfOpen(_)) => match count(h)?.checked_sub(1) {
                    Some(v) => Some((v, h.span())),
                    None => return err(h.span(), "empty range"),
                },
            };
            Ok((lo, hi))
        }
        _ => {
            let n = count(e)?;
            Ok((Some((n, e.span())), Some((n, e.span()))))
        }
    }
}

fn at<T>(value: T, key: Span, span: Span) -> Option<At<T>> {
    Some(At { value, span, key })
}

impl Guides {
    pub fn parse_list(input: ParseStream) -> Result<Self> {
        let mut g = Guides::default();
        while !input.is_empty() {
            if input.peek(LitStr) {
                let s: LitStr = input.parse()?;
                g.set_description(s.value(), s.span(), s.span())?;
            } else {
                let key: Ident = input.parse()?;
                let name = key.to_string();
                if name == "element" {
                    let content;
                    syn::parenthesized!(content in input);
                    let inner = Guides::parse_list(&content)?;
                    if g.element.is_some() {
                        return err(key.span(), "duplicate guide `element`");
                    }
                    g.element = at(Box::new(inner), key.span(), key.span());
                } else {
                    input.parse::<Token![=]>()?;
                    let value: Expr = input.parse()?;
                    g.set(&key, &value)?;
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(g)
    }

    fn set_description(&mut self, s: String, key: Span, span: Span) -> Result<()> {
        if self.description.is_some() {
            return err(span, "duplicate guide `description`");
        }
        self.description = at(s, key, span);
        Ok(())
    }

    fn set(&mut self, key: &Ident, value: &Expr) -> Result<()> {
        let span = value.span();
        let k = key.span();
        let dup = |taken: bool| -> Result<()> {
            if taken {
                err(key.span(), format!("duplicate guide `{key}`"))
            } else {
                Ok(())
            }
        };
        match key.to_string().as_str() {
            "description" => self.set_description(lit_str(value)?, k, span)?,
            "range" => {
                dup(self.minimum.is_some() || self.maximum.is_some())?;
                let Expr::Range(ExprRange { start, limits, end, .. }) = value else {
                    return err(value.span(), "expected a range such as `1..=10`");
                };
                if let Some(s) = start {
                    self.minimum = at(num(s)?, k, s.span());
                }
                match (end, limits) {
                    (Some(e), RangeLimits::Closed(_)) => self.maximum = at(num(e)?, k, e.span()),
                    (Some(e), RangeLimits::HalfOpen(_)) => match num(e)? {
                        Num::Int(i) => self.maximum = at(Num::Int(i - 1), k, e.span()),
                        f => self.exclusive_maximum = at(f, k, e.span()),
                    },
                    (None, _) => {}
                }
            }
            "minimum" => {
                dup(self.minimum.is_some())?;
                self.minimum = at(num(value)?, k, span);
            }
            "maximum" => {
                dup(self.maximum.is_some())?;
                self.maximum = at(num(value)?, k, span);
            }
            "count" => {
                dup(self.min_count.is_some() || self.max_count.is_some())?;
                let (lo, hi) = count_bounds(value)?;
                self.min_count = lo.and_then(|(v, sp)| at(v, k, sp));
                self.max_count = hi.and_then(|(v, sp)| at(v, k, sp));
            }
            "min_count" => {
                dup(self.min_count.is_some())?;
                self.min_count = at(count(value)?, k, span);
            }
            "max_count" => {
                dup(self.max_count.is_some())?;
                self.max_count = at(count(value)?, k, span);
            }
            "length" => {
                dup(self.min_length.is_some() || self.max_length.is_some())?;
                let (lo, hi) = count_bounds(value)?;
                self.min_length = lo.and_then(|(v, sp)| at(v, k, sp));
                self.max_length = hi.and_then(|(v, sp)| at(v, k, sp));
            }
            "min_length" => {
                dup(self.min_length.is_some())?;
                self.min_length = at(count(value)?, k, span);
            }
            "max_length" => {
                dup(self.max_length.is_some())?;
                self.max_length = at(count(value)?, k, span);
            }
            "pattern" => {
                dup(self.pattern.is_some())?;
                let p = lit_str(value)?;
                if let Err(e) = regex_syntax::Parser::new().parse(&p) {
                    return err(value.span(), format!("invalid regular expression in `pattern`:\n{e}"));
                }
                self.pattern = at(p, k, span);
            }
            "any_of" => {
                dup(self.any_of.is_some())?;
                let Expr::Array(arr) = value else {
                    return err(value.span(), "expected an array of string literals such as `[\"a\", \"b\"]`");
                };
                let items = arr.elems.iter().map(lit_str).collect::<Result<Vec<_>>>()?;
                if items.is_empty() {
                    return err(value.span(), "`any_of` needs at least one choice");
                }
                self.any_of = at(items, k, span);
            }
            "constant" => {
                dup(self.constant.is_some())?;
                self.constant = at(lit_str(value)?, k, span);
            }
            "format" => {
                dup(self.format.is_some())?;
                let f = lit_str(value)?;
                if !FORMATS.contains(&f.as_str()) {
                    return err(
                        value.span(),
                        format!("unsupported format {f:?}; expected one of: {}", FORMATS.join(", ")),
                    );
                }
                self.format = at(f, k, span);
            }
            other => {
                return err(
                    key.span(),
                    format!(
                        "unknown guide `{other}`; expected one of: description, range, minimum, maximum, count, min_count, max_count, length, min_length, max_length, pattern, any_of, constant, format, element(...)"
                    ),
                )
            }
        }
        Ok(())
    }

    pub fn merge(&mut self, other: Guides) -> Result<()> {
        macro_rules! m {
            ($($f:ident),*) => {$(
                if let Some(v) = other.$f {
                    if self.$f.is_some() {
                        return err(v.span, concat!("duplicate guide `", stringify!($f), "`"));
                    }
                    self.$f = Some(v);
                }
            )*};
        }
        m!(
            description,
            minimum,
            maximum,
            exclusive_maximum,
            min_count,
            max_count,
            min_length,
            max_length,
            pattern,
            any_of,
            constant,
            format,
            element
        );
        Ok(())
    }

    fn numeric(&self) -> Option<Span> {
        self.minimum
            .as_ref()
            .map(|a| a.key)
            .or(self.maximum.as_ref().map(|a| a.key))
            .or(self.exclusive_maximum.as_ref().map(|a| a.key))
    }
    fn collection(&self) -> Option<Span> {
        self.min_count
            .as_ref()
            .map(|a| a.key)
            .or(self.max_count.as_ref().map(|a| a.key))
            .or(self.element.as_ref().map(|a| a.key))
    }
    fn length(&self) -> Option<Span> {
        self.min_length
            .as_ref()
            .map(|a| a.key)
            .or(self.max_length.as_ref().map(|a| a.key))
    }
    fn stringy(&self) -> Option<(Span, &'static str)> {
        self.pattern
            .as_ref()
            .map(|a| (a.key, "pattern"))
            .or(self.any_of.as_ref().map(|a| (a.key, "any_of")))
            .or(self.constant.as_ref().map(|a| (a.key, "constant")))
            .or(self.format.as_ref().map(|a| (a.key, "format")))
    }

    /// Checks the guides against the field type. Returns `assert!` statements to
    /// evaluate at compile time for types whose syntax does not tell (aliases,
    /// generics, ...).
    pub fn check(&self, ty: &Type, krate: &syn::Path) -> Result<TokenStream> {
        let kind = classify(ty)?;
        let mut deferred = TokenStream::new();
        let mut element_checks = TokenStream::new();
        let mut defer = |wanted: &str, guide: &str, span: Span| {
            let w = Ident::new(wanted, Span::call_site());
            let msg = format!(
                "#[guide({guide})] does not apply to the type of this field (a type alias or generic whose Generable::__GUIDE_KIND does not accept {guide} guides)"
            );
            deferred.extend(quote_spanned! {span=>
                ::core::assert!(
                    #krate::__private::kind::accepts(<#ty as #krate::Generable>::__GUIDE_KIND, #krate::__private::kind::#w),
                    #msg
                );
            });
        };
        let tyname = describe(&kind);
        // numbers
        if let Some(span) = self.numeric() {
            match &kind {
                SynKind::Int { name, min, max } => {
                    for b in [&self.minimum, &self.maximum, &self.exclusive_maximum]
                        .into_iter()
                        .flatten()
                    {
                        match b.value {
                            Num::Int(v) => {
                                if v < *min || (v >= 0 && v as u128 > *max) {
                                    return err(b.span, format!("bound {v} is out of range for `{name}` ({min}..={max})"));
                                }
                            }
                            Num::Float(_) => {
                                return err(
                                    b.span,
                                    format!("`{name}` is an integer type: use integer bounds"),
                                );
                            }
                        }
                    }
                }
                SynKind::Float => {}
                SynKind::Unknown => defer("FLOAT", "range", span),
                _ => {
                    return err(
                        span,
                        format!("`range`/`minimum`/`maximum` apply to numbers, not to {tyname}"),
                    )
                }
            }
            if let (Some(lo), Some(hi)) = (&self.minimum, &self.maximum) {
                if lo.value.as_f64() > hi.value.as_f64() {
                    return err(hi.span, "minimum is greater than maximum");
                }
            }
            if let (Some(lo), Some(hi)) = (&self.minimum, &self.exclusive_maximum) {
                if lo.value.as_f64() >= hi.value.as_f64() {
                    return err(
                        hi.span,
                        "empty range: minimum is not below the exclusive maximum",
                    );
                }
            }
        }
        // collections
        if let Some(span) = self.collection() {
            match &kind {
                SynKind::Array { elem, fixed } => {
                    if let (Some(n), Some(c)) = (fixed, self.min_count.as_ref().or(self.max_count.as_ref())) {
                        let _ = n;
                        return err(c.key, "a fixed-size array already has an exact count; `count` does not apply");
                    }
                    if let Some(e) = &self.element {
                        match elem {
                            Some(et) => element_checks = e.value.check(et, krate)?,
                            None => return err(e.span, "`element(...)` needs the element type to be visible (Vec<T>, [T; N], ...)"),
                        }
                    }
                }
                SynKind::Unknown => {
                    if let Some(e) = &self.element {
                        return err(e.span, "`element(...)` needs a collection type the macro can see (Vec<T>, [T; N], VecDeque<T>, ...); a type alias or generic hides the element type");
                    }
                    defer("ARRAY", "count", span)
                }
                _ => return err(span, format!("`count`/`min_count`/`max_count`/`element` apply to collections, not to {tyname}")),
            }
            if let (Some(lo), Some(hi)) = (&self.min_count, &self.max_count) {
                if lo.value > hi.value {
                    return err(
                        hi.span,
                        format!(
                            "min_count {} is greater than max_count {}",
                            lo.value, hi.value
                        ),
                    );
                }
            }
        }
        // lengths
        if let Some(span) = self.length() {
            match &kind {
                SynKind::Str => {}
                SynKind::Unknown => defer("STRING", "length", span),
                SynKind::Char => {
                    return err(
                        span,
                        "a `char` is always exactly one character; `length` does not apply",
                    )
                }
                _ => {
                    return err(
                        span,
                        format!("`length` applies to strings, not to {tyname}"),
                    )
                }
            }
            if let (Some(lo), Some(hi)) = (&self.min_length, &self.max_length) {
                if lo.value > hi.value {
                    return err(
                        hi.span,
                        format!(
                            "minimum length {} is greater than maximum length {}",
                            lo.value, hi.value
                        ),
                    );
                }
            }
        }
        // string guides
        if let Some((span, name)) = self.stringy() {
            match &kind {
                SynKind::Str => {}
                SynKind::Char if name != "format" => {}
                SynKind::Unknown => defer("STRING", name, span),
                _ => {
                    return err(
                        span,
                        format!("`{name}` applies to strings, not to {tyname}"),
                    )
                }
            }
            if self.any_of.is_some() && self.constant.is_some() {
                return err(span, "`any_of` and `constant` cannot be combined");
            }
        }
        deferred.extend(element_checks);
        Ok(deferred)
    }

    /// An expression of type `serde_json::Value` (an object of keywords).
    pub fn emit(&self, krate: &syn::Path) -> TokenStream {
        let mut inserts = TokenStream::new();
        let json = quote!(#krate::__private::serde_json);
        let mut put = |k: &str, v: TokenStream| {
            inserts.extend(
                quote! { __g.insert(::std::string::String::from(#k), #json::Value::from(#v)); },
            );
        };
        let numv = |n: Num| match n {
            Num::Int(i) if i >= i64::MIN as i128 && i <= i64::MAX as i128 => {
                let i = i as i64;
                quote!(#i)
            }
            Num::Int(i) => {
                let u = i as u64;
                quote!(#u)
            }
            Num::Float(f) => quote!(#f),
        };
        if let Some(d) = &self.description {
            let v = &d.value;
            put("description", quote!(#v));
        }
        if let Some(n) = &self.minimum {
            put("minimum", numv(n.value));
        }
        if let Some(n) = &self.maximum {
            put("maximum", numv(n.value));
        }
        if let Some(n) = &self.exclusive_maximum {
            put("exclusiveMaximum", numv(n.value));
        }
        for (k, v) in [
            ("minItems", &self.min_count),
            ("maxItems", &self.max_count),
            ("minLength", &self.min_length),
            ("maxLength", &self.max_length),
        ] {
            if let Some(v) = v {
                let n = v.value;
                put(k, quote!(#n));
            }
        }
        if let Some(p) = &self.pattern {
            let v = &p.value;
            put("pattern", quote!(#v));
        }
        if let Some(a) = &self.any_of {
            let items = &a.value;
            put("enum", quote!(::std::vec![#(#items),*]));
        }
        if let Some(c) = &self.constant {
            let v = &c.value;
            put("const", quote!(#v));
        }
        if let Some(f) = &self.format {
            let v = &f.value;
            put("format", quote!(#v));
        }
        if let Some(e) = &self.element {
            let inner = e.value.emit(krate);
            inserts
                .extend(quote! { __g.insert(::std::string::String::from("__element"), #inner); });
        }
        quote! {{
            let mut __g = #json::Map::new();
            #inserts
            #json::Value::Object(__g)
        }}
    }
}

pub enum SynKind {
    Str,
    Char,
    Int {
        name: String,
        min: i128,
        max: u128,
    },
    Float,
    Bool,
    Array {
        elem: Option<Type>,
        fixed: Option<()>,
    },
    Map,
    Tuple,
    Unknown,
}

fn describe(k: &SynKind) -> String {
    match k {
        SynKind::Str => "strings".into(),
        SynKind::Char => "`char`".into(),
        SynKind::Int { name, .. } => format!("the integer type `{name}`"),
        SynKind::Float => "floats".into(),
        SynKind::Bool => "`bool`".into(),
        SynKind::Array { .. } => "collections".into(),
        SynKind::Map => "maps".into(),
        SynKind::Tuple => "tuples".into(),
        SynKind::Unknown => "this type".into(),
    }
}

fn single_arg(args: &PathArguments) -> Option<&Type> {
    if let PathArguments::AngleBracketed(a) = args {
        let mut it = a.args.iter().filter_map(|g| match g {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        });
        let first = it.next();
        if it.next().is_none() {
            return first;
        }
    }
    None
}

/// Rejects types that can never be generated and classifies the rest by syntax.
pub fn classify(ty: &Type) -> Result<SynKind> {
    match ty {
        Type::Group(g) => classify(&g.elem),
        Type::Paren(p) => classify(&p.elem),
        Type::Ptr(_) => err(
            ty.span(),
            "unsupported field type: raw pointers cannot be generated",
        ),
        Type::Reference(r) => {
            let hint = match &*r.elem {
                Type::Path(p) if p.path.is_ident("str") => "; use `String`",
                Type::Slice(_) => "; use `Vec<T>`",
                _ => "",
            };
            err(ty.span(), format!("unsupported field type: references cannot be generated (the value is decoded into owned data){hint}"))
        }
        Type::BareFn(_) => err(
            ty.span(),
            "unsupported field type: function pointers cannot be generated",
        ),
        Type::TraitObject(_) | Type::ImplTrait(_) => err(
            ty.span(),
            "unsupported field type: trait objects cannot be generated",
        ),
        Type::Slice(_) => err(
            ty.span(),
            "unsupported field type: unsized slices cannot be generated; use `Vec<T>`",
        ),
        Type::Never(_) => err(ty.span(), "unsupported field type: `!` cannot be generated"),
        Type::Array(a) => Ok(SynKind::Array {
            elem: Some((*a.elem).clone()),
            fixed: Some(()),
        }),
        Type::Tuple(t) if t.elems.is_empty() => Ok(SynKind::Unknown),
        Type::Tuple(_) => Ok(SynKind::Tuple),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return Ok(SynKind::Unknown);
            };
            let name = last.ident.to_string();
            let int = |min: i128, max: u128| SynKind::Int {
                name: name.clone(),
                min,
                max,
            };
            Ok(match name.as_str() {
                "Option" | "Box" => match single_arg(&last.arguments) {
                    Some(inner) => classify(inner)?,
                    None => SynKind::Unknown,
                },
                "String" => SynKind::Str,
                "str" => {
                    return err(
                        ty.span(),
                        "unsupported field type: `str` is unsized; use `String`",
                    )
                }
                "char" => SynKind::Char,
                "bool" => SynKind::Bool,
                "f32" | "f64" => SynKind::Float,
                "i8" => int(i8::MIN as i128, i8::MAX as u128),
                "i16" => int(i16::MIN as i128, i16::MAX as u128),
                "i32" => int(i32::MIN as i128, i32::MAX as u128),
                "i64" | "isize" => int(i64::MIN as i128, i64::MAX as u128),
                "i128" => int(i64::MIN as i128, u64::MAX as u128),
                "u8" => int(0, u8::MAX as u128),
                "u16" => int(0, u16::MAX as u128),
                "u32" => int(0, u32::MAX as u128),
                "u64" | "usize" | "u128" => int(0, u64::MAX as u128),
                "Vec" | "VecDeque" | "HashSet" | "BTreeSet" => SynKind::Array {
                    elem: single_arg(&last.arguments).cloned(),
                    fixed: None,
                },
                "HashMap" | "BTreeMap" => SynKind::Map,
                _ => SynKind::Unknown,
            })
        }
        _ => Ok(SynKind::Unknown),
    }
}
