//! `#[serde(...)]`, `#[generable(...)]` and doc-comment parsing.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, ExprLit, Lit, LitStr, Meta, Path, Result, Token};

use crate::case::RenameRule;
use crate::guide::Guides;

/// Doc comments joined into one description.
pub fn docs(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &a.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                let v = s.value();
                lines.push(v.strip_prefix(' ').unwrap_or(&v).trim_end().to_string());
            }
        }
    }
    let text = lines.join("\n").trim().to_string();
    if text.is_empty() {
        None
    } else {
        Some(text)
    }
}

fn skip_value(meta: &ParseNestedMeta) -> Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
    }
    Ok(())
}

fn unsupported(meta: &ParseNestedMeta, what: &str) -> syn::Error {
    meta.error(format!(
        "#[serde({what})] is not supported by #[derive(Generable)]: the schema could not describe it"
    ))
}

fn rule(meta: &ParseNestedMeta) -> Result<RenameRule> {
    if meta.input.peek(syn::token::Paren) {
        return Err(
            meta.error("use the plain form `rename_all = \"...\"` with #[derive(Generable)]")
        );
    }
    let s: LitStr = meta.value()?.parse()?;
    RenameRule::parse(&s.value()).ok_or_else(|| {
        syn::Error::new(
            s.span(),
            "unknown rename rule; expected one of \"lowercase\", \"UPPERCASE\", \"PascalCase\", \"camelCase\", \"snake_case\", \"SCREAMING_SNAKE_CASE\", \"kebab-case\", \"SCREAMING-KEBAB-CASE\"",
        )
    })
}

fn rename(meta: &ParseNestedMeta) -> Result<String> {
    if meta.input.peek(syn::token::Paren) {
        return Err(meta.error("use the plain form `rename = \"...\"` with #[derive(Generable)]"));
    }
    let s: LitStr = meta.value()?.parse()?;
    Ok(s.value())
}

#[derive(Default)]
pub struct ContainerAttrs {
    pub krate: Option<Path>,
    pub rename: Option<String>,
    pub rename_all: Option<RenameRule>,
    pub rename_all_fields: Option<RenameRule>,
    pub tag: Option<String>,
    pub content: Option<String>,
    pub untagged: bool,
}

pub fn container(attrs: &[Attribute]) -> Result<ContainerAttrs> {
    let mut out = ContainerAttrs::default();
    for a in attrs {
        if a.path().is_ident("generable") {
            a.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    let s: LitStr = meta.value()?.parse()?;
                    out.krate = Some(s.parse()?);
                    Ok(())
                } else {
                    Err(meta.error("unknown generable attribute; expected `crate = \"path\"`"))
                }
            })?;
        } else if a.path().is_ident("serde") {
            a.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("rename") {
                    out.rename = Some(rename(&meta)?);
                } else if p.is_ident("rename_all") {
                    out.rename_all = Some(rule(&meta)?);
                } else if p.is_ident("rename_all_fields") {
                    out.rename_all_fields = Some(rule(&meta)?);
                } else if p.is_ident("tag") {
                    out.tag = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if p.is_ident("content") {
                    out.content = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if p.is_ident("untagged") {
                    out.untagged = true;
                } else if p.is_ident("default") {
                    return Err(meta.error(
                        "container-level #[serde(default)] is not supported by #[derive(Generable)]; put #[serde(default)] on the fields",
                    ));
                } else {
                    for bad in ["transparent", "from", "try_from", "into", "remote", "variant_identifier", "field_identifier"] {
                        if p.is_ident(bad) {
                            return Err(unsupported(&meta, bad));
                        }
                    }
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        }
    }
    Ok(out)
}

pub enum FieldDefault {
    None,
    Default,
    Path(Path),
}

pub struct FieldAttrs {
    pub rename: Option<String>,
    pub skip: bool,
    pub default: FieldDefault,
    pub guides: Option<Guides>,
    pub docs: Option<String>,
}

pub fn field(attrs: &[Attribute]) -> Result<FieldAttrs> {
    let mut out = FieldAttrs {
        rename: None,
        skip: false,
        default: FieldDefault::None,
        guides: None,
        docs: docs(attrs),
    };
    for a in attrs {
        if a.path().is_ident("serde") {
            a.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("rename") {
                    out.rename = Some(rename(&meta)?);
                } else if p.is_ident("skip") || p.is_ident("skip_deserializing") {
                    out.skip = true;
                } else if p.is_ident("default") {
                    if meta.input.peek(Token![=]) {
                        let s: LitStr = meta.value()?.parse()?;
                        out.default = FieldDefault::Path(s.parse()?);
                    } else {
                        out.default = FieldDefault::Default;
                    }
                } else {
                    for bad in [
                        "flatten",
                        "with",
                        "deserialize_with",
                        "serialize_with",
                        "getter",
                    ] {
                        if p.is_ident(bad) {
                            return Err(unsupported(&meta, bad));
                        }
                    }
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        } else if a.path().is_ident("guide") {
            let g: Guides = a.parse_args_with(Guides::parse_list)?;
            match &mut out.guides {
                Some(existing) => existing.merge(g)?,
                None => out.guides = Some(g),
            }
        } else if a.path().is_ident("generable") {
            return Err(syn::Error::new_spanned(
                a,
                "#[generable(...)] goes on the type; use #[guide(...)] on fields",
            ));
        }
    }
    Ok(out)
}

pub struct VariantAttrs {
    pub rename: Option<String>,
    pub rename_all: Option<RenameRule>,
    pub skip: bool,
    pub docs: Option<String>,
}

pub fn variant(attrs: &[Attribute]) -> Result<VariantAttrs> {
    let mut out = VariantAttrs {
        rename: None,
        rename_all: None,
        skip: false,
        docs: docs(attrs),
    };
    for a in attrs {
        if a.path().is_ident("serde") {
            a.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("rename") {
                    out.rename = Some(rename(&meta)?);
                } else if p.is_ident("rename_all") {
                    out.rename_all = Some(rule(&meta)?);
                } else if p.is_ident("skip") || p.is_ident("skip_deserializing") {
                    out.skip = true;
                } else {
                    for bad in [
                        "other",
                        "untagged",
                        "with",
                        "deserialize_with",
                        "serialize_with",
                    ] {
                        if p.is_ident(bad) {
                            return Err(unsupported(&meta, bad));
                        }
                    }
                    skip_value(&meta)?;
                }
                Ok(())
            })?;
        } else if a.path().is_ident("guide") {
            return Err(syn::Error::new_spanned(
                a,
                "#[guide(...)] goes on fields, not on enum variants",
            ));
        }
    }
    Ok(out)
}
