//! `#[derive(Generable)]` for Trellis.
//!
//! Use it through the `trellis` crate (`use trellis::Generable;`). The derive
//! emits paths under `::trellis`; inside other crates that re-export
//! `trellis-schema` under another name, set `#[generable(crate = "path")]`.
//!
//! # What it generates
//!
//! For a type `Name` it implements `Generable` and declares `NamePartial`, the
//! partial mirror used while streaming (same visibility as `Name`):
//!
//! * named structs → JSON objects: `properties` in **declaration order** (the
//!   model generates them in that order, so put summaries and conclusions
//!   last), `required` = fields that are neither `Option` nor
//!   `#[serde(default)]`, `additionalProperties: false`; `NamePartial` has the
//!   same fields, each `Option<<T as Generable>::Partial>`;
//! * newtype structs → the inner schema; tuple structs → fixed-length arrays;
//!   unit structs → `null`;
//! * enums → serde's representations: externally tagged (default; all-unit enums
//!   become a string `enum`), `#[serde(tag = "t")]` (unit and struct variants),
//!   `#[serde(tag = "t", content = "c")]`, `#[serde(untagged)]` (`anyOf`).
//!   All use `anyOf`; for the tagged representations the branches are disjoint
//!   by their tag, so this is equivalent to `oneOf` (which the grammar engine
//!   does not enforce).
//!   `Partial` of an enum is `Option<NamePartial>`;
//! * generic type parameters get a `T: Generable` bound; named types go to
//!   `$defs` and are referenced with `$ref`, so recursion (via `Box`/`Vec`/`Option`) works;
//! * doc comments → `description`.
//!
//! Honoured serde attributes: `rename`, `rename_all`, `rename_all_fields`,
//! `skip`/`skip_deserializing`, `default`/`default = "path"`, `tag`, `content`,
//! `untagged`. Attributes the schema could not express (`flatten`, `with`,
//! `transparent`, `from`, ...) are compile errors. The type does not need to derive
//! serde.
//!
//! # Guides
//!
//! `#[guide(...)]` on fields: `description = "..."` (or a bare string),
//! `range = a..=b` / `minimum` / `maximum` (numbers), `count = n | a..=b` /
//! `min_count` / `max_count` (collections), `length = n | a..=b` /
//! `min_length` / `max_length` (strings), `pattern = r"..."` (checked at compile
//! time), `any_of = ["a", "b"]`, `constant = "x"`, `format = "date" | "date-time" |
//! "time" | "email" | "uuid" | "uri" | "ipv4" | "ipv6" | "hostname" | "duration"`, and
//! `element(...)` for the elements of a collection. Guides are checked against
//! the field's type at expansion; where the syntax does not tell (an alias, a
//! generic), a compile-time assertion on `Generable::__GUIDE_KIND` checks it.

mod attr;
mod case;
mod expand;
mod guide;

use proc_macro::TokenStream;

/// Derives `Generable`. See the crate documentation.
#[proc_macro_derive(Generable, attributes(guide, generable, serde))]
pub fn derive_generable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match expand::derive(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
