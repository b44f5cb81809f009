//! Code generation for `#[derive(Generable)]`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    parse_quote, Data, DeriveInput, Fields, GenericParam, Generics, Ident, Index, Path, Result,
    Type, Visibility,
};

use crate::attr::{self, ContainerAttrs, FieldAttrs, FieldDefault};
use crate::case::RenameRule;
use crate::guide::{classify, At, Guides};

struct Field {
    member: syn::Member,
    ty: Type,
    name: String,
    attrs: FieldAttrs,
    span: Span,
}

enum Style {
    Unit,
    Tuple(Vec<Field>),
    Named(Vec<Field>),
}

struct Variant {
    ident: Ident,
    name: String,
    docs: Option<String>,
    style: Style,
}

enum Repr {
    External,
    Internal(String),
    Adjacent(String, String),
    Untagged,
}

struct Ctx {
    krate: Path,
    ident: Ident,
    partial: Ident,
    vis: Visibility,
    generics: Generics,
    /// Type params and const params, for the `PhantomData` marker and names.
    type_params: Vec<Ident>,
    const_params: Vec<Ident>,
    /// Module-level `const _: () = ...;` items (guide checks on non-generic types).
    items: std::cell::RefCell<TokenStream>,
}

fn fields(fields: &Fields, rule: Option<RenameRule>) -> Result<Style> {
    let build = |named: bool| -> Result<Vec<Field>> {
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            let attrs = attr::field(&f.attrs)?;
            let (member, base) = match &f.ident {
                Some(id) => {
                    let s = id.to_string();
                    let s = s.strip_prefix("r#").unwrap_or(&s).to_string();
                    (syn::Member::Named(id.clone()), s)
                }
                None => (syn::Member::Unnamed(Index::from(i)), i.to_string()),
            };
            let name = match (&attrs.rename, rule) {
                (Some(r), _) => r.clone(),
                (None, Some(rule)) if named => rule.field(&base),
                _ => base,
            };
            if !named && attrs.skip {
                return Err(syn::Error::new(
                    f.span(),
                    "#[serde(skip)] on tuple fields is not supported by #[derive(Generable)]",
                ));
            }
            if !attrs.skip {
                // Reject types that can never be generated, with a span on the type.
                classify(&f.ty)?;
            }
            out.push(Field {
                member,
                ty: f.ty.clone(),
                name,
                attrs,
                span: f.ty.span(),
            });
        }
        Ok(out)
    };
    Ok(match fields {
        Fields::Unit => Style::Unit,
        Fields::Unnamed(_) => Style::Tuple(build(false)?),
        Fields::Named(_) => Style::Named(build(true)?),
    })
}

pub fn derive(input: DeriveInput) -> Result<TokenStream> {
    let cattrs = attr::container(&input.attrs)?;
    let krate: Path = cattrs
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::trellis));
    let mut generics = input.generics.clone();
    let mut type_params = Vec::new();
    let mut const_params = Vec::new();
    for p in &generics.params {
        match p {
            GenericParam::Lifetime(l) => {
                return Err(syn::Error::new(
                    l.span(),
                    "#[derive(Generable)] does not support lifetime parameters: generated values own their data",
                ))
            }
            GenericParam::Type(t) => type_params.push(t.ident.clone()),
            GenericParam::Const(c) => const_params.push(c.ident.clone()),
        }
    }
    {
        let wc = generics.make_where_clause();
        for t in &type_params {
            wc.predicates.push(parse_quote!(#t: #krate::Generable));
        }
    }
    let ctx = Ctx {
        krate,
        ident: input.ident.clone(),
        partial: format_ident!("{}Partial", input.ident),
        vis: input.vis.clone(),
        generics,
        type_params,
        const_params,
        items: Default::default(),
    };
    let docs = attr::docs(&input.attrs);
    let base_name = cattrs
        .rename
        .clone()
        .unwrap_or_else(|| input.ident.to_string());
    match &input.data {
        Data::Struct(s) => {
            if cattrs.tag.is_some() || cattrs.untagged || cattrs.content.is_some() {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "#[serde(tag/content/untagged)] on a struct is not supported by #[derive(Generable)]",
                ));
            }
            let style = fields(&s.fields, cattrs.rename_all)?;
            derive_struct(&ctx, &base_name, docs, style)
        }
        Data::Enum(e) => {
            let repr = repr(&cattrs, &input)?;
            let mut variants = Vec::new();
            for v in &e.variants {
                let va = attr::variant(&v.attrs)?;
                if va.skip {
                    continue;
                }
                let name = va.rename.clone().unwrap_or_else(|| {
                    cattrs
                        .rename_all
                        .map(|r| r.variant(&v.ident.to_string()))
                        .unwrap_or_else(|| v.ident.to_string())
                });
                let rule = va.rename_all.or(cattrs.rename_all_fields);
                let style = fields(&v.fields, rule)?;
                if let (Repr::Internal(_), Style::Tuple(_)) = (&repr, &style) {
                    return Err(syn::Error::new(
                        v.ident.span(),
                        "internally tagged enums (#[serde(tag = \"...\")]) support unit and struct variants only; use a struct variant",
                    ));
                }
                variants.push(Variant {
                    ident: v.ident.clone(),
                    name,
                    docs: va.docs,
                    style,
                });
            }
            if variants.is_empty() {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "#[derive(Generable)] needs at least one (non-skipped) variant",
                ));
            }
            derive_enum(&ctx, &base_name, docs, repr, &variants)
        }
        Data::Union(u) => Err(syn::Error::new(
            u.union_token.span(),
            "#[derive(Generable)] does not support unions",
        )),
    }
}

fn repr(c: &ContainerAttrs, input: &DeriveInput) -> Result<Repr> {
    Ok(match (&c.tag, &c.content, c.untagged) {
        (None, None, false) => Repr::External,
        (Some(t), None, false) => Repr::Internal(t.clone()),
        (Some(t), Some(c), false) => Repr::Adjacent(t.clone(), c.clone()),
        (None, None, true) => Repr::Untagged,
        _ => {
            return Err(syn::Error::new(
                input.ident.span(),
                "invalid enum representation: use `tag`, `tag` + `content`, or `untagged`",
            ))
        }
    })
}

impl Ctx {
    fn json(&self) -> TokenStream {
        let k = &self.krate;
        quote!(#k::__private::serde_json)
    }

    fn name_fn(&self, base: &str) -> TokenStream {
        let k = &self.krate;
        if self.type_params.is_empty() && self.const_params.is_empty() {
            quote!(::std::string::String::from(#base))
        } else {
            let tp = &self.type_params;
            let cp = &self.const_params;
            quote!(#k::__private::generic_name(#base, &[
                #(<#tp as #k::Generable>::schema_name(),)*
                #(::std::string::ToString::to_string(&#cp),)*
            ]))
        }
    }

    fn marker_ty(&self) -> Option<TokenStream> {
        if self.type_params.is_empty() {
            None
        } else {
            let tp = &self.type_params;
            Some(quote!(::core::marker::PhantomData<fn() -> (#(#tp,)*)>))
        }
    }

    fn partial_field_ty(&self, f: &Field) -> TokenStream {
        let k = &self.krate;
        let ty = &f.ty;
        quote_spanned!(f.span=> ::core::option::Option<<#ty as #k::Generable>::Partial>)
    }
}

fn mentions_params(ty: &Type, tps: &[Ident], cps: &[Ident]) -> bool {
    fn walk(ts: TokenStream, names: &[&Ident]) -> bool {
        ts.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => names.iter().any(|n| **n == i),
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), names),
            _ => false,
        })
    }
    let names: Vec<&Ident> = tps.iter().chain(cps).collect();
    walk(quote!(#ty), &names)
}

/// Guides for a field, with the doc comment as description unless a guide sets one.
fn field_guides(f: &Field) -> Guides {
    let mut g = f.attrs.guides.clone().unwrap_or_default();
    if g.description.is_none() {
        if let Some(d) = &f.attrs.docs {
            g.description = Some(At {
                value: d.clone(),
                span: f.span,
                key: f.span,
            });
        }
    }
    g
}

/// `(Value, bool)`: the schema of a field and whether it is required.
fn field_schema(ctx: &Ctx, f: &Field, as_property: bool) -> Result<TokenStream> {
    let k = &ctx.krate;
    let ty = &f.ty;
    let asserts = match &f.attrs.guides {
        Some(g) => g.check(ty, k)?,
        None => TokenStream::new(),
    };
    let checks = if asserts.is_empty() {
        TokenStream::new()
    } else if mentions_params(ty, &ctx.type_params, &ctx.const_params) {
        // Depends on generic parameters: checked when instantiated.
        quote!(const { #asserts };)
    } else {
        // Checked as soon as the crate is type-checked (even by `cargo check`).
        ctx.items
            .borrow_mut()
            .extend(quote!(const _: () = { #asserts };));
        TokenStream::new()
    };
    let guides = field_guides(f).emit(k);
    let get = if as_property {
        quote_spanned!(f.span=> <#ty as #k::Generable>::__field_schema(__gen))
    } else {
        quote_spanned!(f.span=> (<#ty as #k::Generable>::schema(__gen), true))
    };
    Ok(quote! {{
        #checks
        let (mut __s, __r) = #get;
        #k::__private::apply_guides(&mut __s, #guides);
        (__s, __r)
    }})
}

fn desc_insert(ctx: &Ctx, m: &Ident, docs: &Option<String>) -> TokenStream {
    let json = ctx.json();
    match docs {
        Some(d) => {
            quote!(#m.insert(::std::string::String::from("description"), #json::Value::from(#d));)
        }
        None => TokenStream::new(),
    }
}

fn const_tag(ctx: &Ctx, value: &str) -> TokenStream {
    let json = ctx.json();
    quote!(#json::json!({"type": "string", "const": #value}))
}

/// An object schema for named fields; `tag` adds a leading `const` property.
fn object_schema(
    ctx: &Ctx,
    fields: &[Field],
    tag: Option<(&str, &str)>,
    docs: &Option<String>,
) -> Result<TokenStream> {
    let json = ctx.json();
    let mut stmts = TokenStream::new();
    if let Some((t, v)) = tag {
        let c = const_tag(ctx, v);
        stmts.extend(quote! {
            __props.insert(::std::string::String::from(#t), #c);
            __req.push(#json::Value::from(#t));
        });
    }
    for f in fields.iter().filter(|f| !f.attrs.skip) {
        let fs = field_schema(ctx, f, true)?;
        let name = &f.name;
        let push_req = if matches!(f.attrs.default, FieldDefault::None) {
            quote!(if __r { __req.push(#json::Value::from(#name)); })
        } else {
            quote!(let _ = __r;)
        };
        stmts.extend(quote! {
            {
                let (__s, __r) = #fs;
                __props.insert(::std::string::String::from(#name), __s);
                #push_req
            }
        });
    }
    let m = format_ident!("__m");
    let desc = desc_insert(ctx, &m, docs);
    Ok(quote! {{
        let mut __props = #json::Map::new();
        let mut __req: ::std::vec::Vec<#json::Value> = ::std::vec::Vec::new();
        #stmts
        let mut __m = #json::Map::new();
        #desc
        __m.insert(::std::string::String::from("type"), #json::Value::from("object"));
        __m.insert(::std::string::String::from("properties"), #json::Value::Object(__props));
        __m.insert(::std::string::String::from("required"), #json::Value::Array(__req));
        __m.insert(::std::string::String::from("additionalProperties"), #json::Value::Bool(false));
        #json::Value::Object(__m)
    }})
}

/// Schema for tuple fields: a newtype is its field; more fields make a fixed array.
fn tuple_schema(ctx: &Ctx, fields: &[Field], docs: &Option<String>) -> Result<TokenStream> {
    let json = ctx.json();
    let k = &ctx.krate;
    let desc = match docs {
        Some(d) => {
            quote!(#k::__private::apply_guides(&mut __v, #json::json!({"description": #d}));)
        }
        None => TokenStream::new(),
    };
    if fields.len() == 1 {
        let fs = field_schema(ctx, &fields[0], false)?;
        return Ok(quote! {{ let mut __v = #fs.0; #desc __v }});
    }
    let items = fields
        .iter()
        .map(|f| field_schema(ctx, f, false))
        .collect::<Result<Vec<_>>>()?;
    let n = fields.len();
    Ok(quote! {{
        let mut __v = #json::json!({
            "type": "array",
            "prefixItems": [#((#items).0),*],
            "minItems": #n,
            "maxItems": #n,
        });
        #desc
        __v
    }})
}

fn decode_closure(ctx: &Ctx, body: TokenStream) -> TokenStream {
    let k = &ctx.krate;
    quote! {
        (|| -> ::core::result::Result<Self, #k::DecodeError> { #body })()
    }
}

/// Decodes named fields from object `content` into `ctor { ... }`.
fn object_decode(
    ctx: &Ctx,
    fields: &[Field],
    ctor: TokenStream,
    content: TokenStream,
    tag: Option<&str>,
) -> TokenStream {
    let k = &ctx.krate;
    let mut known: Vec<String> = tag.iter().map(|t| t.to_string()).collect();
    let mut inits = Vec::new();
    for f in fields {
        let m = &f.member;
        let ty = &f.ty;
        let name = &f.name;
        if f.attrs.skip {
            inits.push(quote!(#m: ::core::default::Default::default()));
            continue;
        }
        known.push(name.clone());
        let init = match &f.attrs.default {
            FieldDefault::None => quote!(#k::__private::field::<#ty>(__p, #name)?),
            FieldDefault::Default => {
                quote!(#k::__private::field_or::<#ty>(__p, #name, ::core::default::Default::default)?)
            }
            FieldDefault::Path(p) => quote!(#k::__private::field_or::<#ty>(__p, #name, #p)?),
        };
        inits.push(quote!(#m: #init));
    }
    decode_closure(
        ctx,
        quote! {
            let __p = #k::__private::expect_object(#content)?;
            #k::__private::deny_unknown(__p, &[#(#known),*])?;
            ::core::result::Result::Ok(#ctor { #(#inits,)* })
        },
    )
}

fn tuple_decode(
    ctx: &Ctx,
    fields: &[Field],
    ctor: TokenStream,
    content: TokenStream,
) -> TokenStream {
    let k = &ctx.krate;
    if fields.len() == 1 {
        let ty = &fields[0].ty;
        return decode_closure(
            ctx,
            quote!(::core::result::Result::Ok(#ctor(<#ty as #k::Generable>::from_content(#content)?))),
        );
    }
    let n = fields.len();
    let elems = fields.iter().enumerate().map(|(i, f)| {
        let ty = &f.ty;
        quote!(#k::__private::element::<#ty>(__items, #i)?)
    });
    decode_closure(
        ctx,
        quote! {
            let __items = #k::__private::expect_array(#content, #n)?;
            ::core::result::Result::Ok(#ctor(#(#elems),*))
        },
    )
}

fn object_partial(
    ctx: &Ctx,
    fields: &[Field],
    ctor: TokenStream,
    content: TokenStream,
    marker: bool,
) -> TokenStream {
    let k = &ctx.krate;
    let inits = fields.iter().filter(|f| !f.attrs.skip).map(|f| {
        let m = &f.member;
        let ty = &f.ty;
        let name = &f.name;
        quote!(#m: #k::__private::partial_field::<#ty>(#content, #name))
    });
    let marker = if marker && ctx.marker_ty().is_some() {
        quote!(__marker: ::core::marker::PhantomData,)
    } else {
        TokenStream::new()
    };
    quote!(#ctor { #(#inits,)* #marker })
}

fn tuple_partial(
    ctx: &Ctx,
    fields: &[Field],
    ctor: TokenStream,
    content: TokenStream,
    marker: bool,
) -> TokenStream {
    let k = &ctx.krate;
    let marker = if marker && ctx.marker_ty().is_some() {
        quote!(::core::marker::PhantomData,)
    } else {
        TokenStream::new()
    };
    if fields.len() == 1 {
        let ty = &fields[0].ty;
        return quote!(#ctor(::core::option::Option::Some(<#ty as #k::Generable>::partial_from_content(#content)), #marker));
    }
    let elems = fields.iter().enumerate().map(|(i, f)| {
        let ty = &f.ty;
        quote!(#k::__private::partial_element::<#ty>(#content, #i))
    });
    quote!(#ctor(#(#elems,)* #marker))
}

fn partial_doc(ctx: &Ctx) -> String {
    format!(
        "Partial mirror of [`{0}`] produced while it streams (`<{0} as Generable>::Partial`): every field is optional, recursively; a field is `Some` once the model has started generating it.",
        ctx.ident
    )
}

fn derive_struct(ctx: &Ctx, base: &str, docs: Option<String>, style: Style) -> Result<TokenStream> {
    let k = &ctx.krate;
    let ident = &ctx.ident;
    let partial = &ctx.partial;
    let vis = &ctx.vis;
    let (impl_g, ty_g, where_c) = ctx.generics.split_for_impl();
    let params = &ctx.generics.params;
    let name_fn = ctx.name_fn(base);
    let pdoc = partial_doc(ctx);
    let marker_ty = ctx.marker_ty();

    let (body_schema, decode, partial_build, partial_decl, partial_impls) = match &style {
        Style::Named(fs) => {
            let schema = object_schema(ctx, fs, None, &docs)?;
            let decode = object_decode(ctx, fs, quote!(Self), quote!(content), None);
            let build = object_partial(ctx, fs, quote!(#partial), quote!(content), true);
            let live: Vec<&Field> = fs.iter().filter(|f| !f.attrs.skip).collect();
            let members: Vec<&syn::Member> = live.iter().map(|f| &f.member).collect();
            let tys: Vec<TokenStream> = live.iter().map(|f| ctx.partial_field_ty(f)).collect();
            let fdocs: Vec<String> = live
                .iter()
                .map(|f| {
                    format!(
                        "`{}` (JSON property `{}`), once generation of it has started.",
                        member_str(&f.member),
                        f.name
                    )
                })
                .collect();
            let marker_field = marker_ty
                .as_ref()
                .map(|m| quote!(#[doc(hidden)] #vis __marker: #m,));
            let decl = quote! {
                #[doc = #pdoc]
                #vis struct #partial<#params> #where_c {
                    #( #[doc = #fdocs] #vis #members: #tys, )*
                    #marker_field
                }
            };
            let marker_init = marker_ty
                .as_ref()
                .map(|_| quote!(__marker: ::core::marker::PhantomData,));
            let pname = partial.to_string();
            let impls = quote! {
                impl #impl_g ::core::clone::Clone for #partial #ty_g #where_c {
                    fn clone(&self) -> Self {
                        Self { #( #members: ::core::clone::Clone::clone(&self.#members), )* #marker_init }
                    }
                }
                impl #impl_g ::core::default::Default for #partial #ty_g #where_c {
                    fn default() -> Self {
                        Self { #( #members: ::core::option::Option::None, )* #marker_init }
                    }
                }
                impl #impl_g ::core::cmp::PartialEq for #partial #ty_g #where_c {
                    fn eq(&self, __other: &Self) -> bool {
                        true #( && self.#members == __other.#members )*
                    }
                }
                impl #impl_g ::core::fmt::Debug for #partial #ty_g #where_c {
                    fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        __f.debug_struct(#pname) #( .field(stringify!(#members), &self.#members) )* .finish()
                    }
                }
            };
            (schema, decode, build, decl, impls)
        }
        Style::Tuple(fs) => {
            let schema = tuple_schema(ctx, fs, &docs)?;
            let decode = tuple_decode(ctx, fs, quote!(Self), quote!(content));
            let build = tuple_partial(ctx, fs, quote!(#partial), quote!(content), true);
            let tys: Vec<TokenStream> = fs.iter().map(|f| ctx.partial_field_ty(f)).collect();
            let idx: Vec<Index> = (0..fs.len()).map(Index::from).collect();
            let marker_field = marker_ty.as_ref().map(|m| quote!(#[doc(hidden)] #vis #m,));
            let decl = quote! {
                #[doc = #pdoc]
                #vis struct #partial<#params>( #( #vis #tys, )* #marker_field ) #where_c;
            };
            let marker_init = marker_ty
                .as_ref()
                .map(|_| quote!(::core::marker::PhantomData,));
            let pname = partial.to_string();
            let impls = quote! {
                impl #impl_g ::core::clone::Clone for #partial #ty_g #where_c {
                    fn clone(&self) -> Self {
                        Self( #( ::core::clone::Clone::clone(&self.#idx), )* #marker_init )
                    }
                }
                impl #impl_g ::core::default::Default for #partial #ty_g #where_c {
                    fn default() -> Self {
                        Self( #( { let _ = #idx; ::core::option::Option::None }, )* #marker_init )
                    }
                }
                impl #impl_g ::core::cmp::PartialEq for #partial #ty_g #where_c {
                    fn eq(&self, __other: &Self) -> bool {
                        true #( && self.#idx == __other.#idx )*
                    }
                }
                impl #impl_g ::core::fmt::Debug for #partial #ty_g #where_c {
                    fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        __f.debug_tuple(#pname) #( .field(&self.#idx) )* .finish()
                    }
                }
            };
            (schema, decode, build, decl, impls)
        }
        Style::Unit => {
            let json = ctx.json();
            let desc = match &docs {
                Some(d) => quote!(#json::json!({"type": "null", "description": #d})),
                None => quote!(#json::json!({"type": "null"})),
            };
            let decode = quote! {
                if content.is_null() {
                    ::core::result::Result::Ok(Self)
                } else {
                    ::core::result::Result::Err(#k::DecodeError::type_mismatch("null", content))
                }
            };
            if marker_ty.is_some() {
                return Err(syn::Error::new(
                    ident.span(),
                    "generic unit structs are not supported",
                ));
            }
            let decl = quote! {
                #[doc = #pdoc]
                #[derive(Clone, Copy, Debug, Default, PartialEq)]
                #vis struct #partial;
            };
            (desc, decode, quote!(#partial), decl, TokenStream::new())
        }
    };

    let items = ctx.items.take();
    Ok(quote! {
        #items
        #partial_decl
        #partial_impls

        impl #impl_g #k::Generable for #ident #ty_g #where_c {
            type Partial = #partial #ty_g;

            fn schema(__gen: &mut #k::SchemaGenerator) -> #k::__private::serde_json::Value {
                let __name = <Self as #k::Generable>::schema_name();
                __gen.define_type(::core::any::type_name::<Self>(), &__name, |__gen| #body_schema)
            }

            fn from_content(content: &#k::GeneratedContent) -> ::core::result::Result<Self, #k::DecodeError> {
                #decode
            }

            fn partial_from_content(content: &#k::GeneratedContent) -> Self::Partial {
                #partial_build
            }

            fn schema_name() -> ::std::string::String {
                #name_fn
            }
        }
    })
}

fn member_str(m: &syn::Member) -> String {
    match m {
        syn::Member::Named(i) => i.to_string(),
        syn::Member::Unnamed(i) => i.index.to_string(),
    }
}

fn payload_schema(ctx: &Ctx, v: &Variant) -> Result<TokenStream> {
    match &v.style {
        Style::Unit => Ok(quote!(unreachable_unit)),
        Style::Tuple(fs) => tuple_schema(ctx, fs, &None),
        Style::Named(fs) => object_schema(ctx, fs, None, &None),
    }
}

fn payload_decode(ctx: &Ctx, v: &Variant, content: TokenStream) -> TokenStream {
    let vi = &v.ident;
    match &v.style {
        Style::Unit => quote!(::core::result::Result::Ok(Self::#vi)),
        Style::Tuple(fs) => tuple_decode(ctx, fs, quote!(Self::#vi), content),
        Style::Named(fs) => object_decode(ctx, fs, quote!(Self::#vi), content, None),
    }
}

fn payload_partial(ctx: &Ctx, v: &Variant, content: TokenStream) -> TokenStream {
    let vi = &v.ident;
    let p = &ctx.partial;
    match &v.style {
        Style::Unit => quote!(#p::#vi),
        Style::Tuple(fs) => tuple_partial(ctx, fs, quote!(#p::#vi), content, false),
        Style::Named(fs) => object_partial(ctx, fs, quote!(#p::#vi), content, false),
    }
}

/// The partial of a variant whose payload has not started.
fn payload_partial_empty(ctx: &Ctx, v: &Variant) -> TokenStream {
    let vi = &v.ident;
    let p = &ctx.partial;
    match &v.style {
        Style::Unit => quote!(#p::#vi),
        Style::Tuple(fs) => {
            let nones = fs.iter().map(|_| quote!(::core::option::Option::None));
            quote!(#p::#vi(#(#nones),*))
        }
        Style::Named(fs) => {
            let mems = fs.iter().filter(|f| !f.attrs.skip).map(|f| &f.member);
            quote!(#p::#vi { #(#mems: ::core::option::Option::None),* })
        }
    }
}

fn derive_enum(
    ctx: &Ctx,
    base: &str,
    docs: Option<String>,
    repr: Repr,
    variants: &[Variant],
) -> Result<TokenStream> {
    let k = &ctx.krate;
    let json = ctx.json();
    let ident = &ctx.ident;
    let partial = &ctx.partial;
    let vis = &ctx.vis;
    let (impl_g, ty_g, where_c) = ctx.generics.split_for_impl();
    let params = &ctx.generics.params;
    let name_fn = ctx.name_fn(base);
    let tname = ident.to_string();
    let m = format_ident!("__m");
    let desc = desc_insert(ctx, &m, &docs);
    let all_unit = variants.iter().all(|v| matches!(v.style, Style::Unit));

    // ---- schema ----
    let mut branches = Vec::new();
    for v in variants {
        let name = &v.name;
        let vdesc = match &v.docs {
            Some(d) => {
                quote!(#k::__private::apply_guides(&mut __b, #json::json!({"description": #d}));)
            }
            None => TokenStream::new(),
        };
        let b = match (&repr, &v.style) {
            (Repr::External, Style::Unit) => const_tag(ctx, name),
            (Repr::External, _) => {
                let p = payload_schema(ctx, v)?;
                quote!(#json::json!({
                    "type": "object",
                    "properties": { #name: (#p) },
                    "required": [#name],
                    "additionalProperties": false,
                }))
            }
            (Repr::Internal(t), Style::Unit) => object_schema(ctx, &[], Some((t, name)), &None)?,
            (Repr::Internal(t), Style::Named(fs)) => {
                object_schema(ctx, fs, Some((t, name)), &None)?
            }
            (Repr::Internal(_), Style::Tuple(_)) => unreachable!("rejected earlier"),
            (Repr::Adjacent(t, _), Style::Unit) => {
                let c = const_tag(ctx, name);
                quote!(#json::json!({
                    "type": "object",
                    "properties": { #t: (#c) },
                    "required": [#t],
                    "additionalProperties": false,
                }))
            }
            (Repr::Adjacent(t, c), _) => {
                let ct = const_tag(ctx, name);
                let p = payload_schema(ctx, v)?;
                quote!(#json::json!({
                    "type": "object",
                    "properties": { #t: (#ct), #c: (#p) },
                    "required": [#t, #c],
                    "additionalProperties": false,
                }))
            }
            (Repr::Untagged, Style::Unit) => quote!(#json::json!({"type": "null"})),
            (Repr::Untagged, _) => payload_schema(ctx, v)?,
        };
        branches.push(quote! {{ let mut __b = #b; #vdesc __b }});
    }
    let schema = if all_unit
        && matches!(repr, Repr::External)
        && variants.iter().all(|v| v.docs.is_none())
    {
        let names = variants.iter().map(|v| &v.name);
        quote! {{
            let mut __m = #json::Map::new();
            #desc
            __m.insert(::std::string::String::from("type"), #json::Value::from("string"));
            __m.insert(::std::string::String::from("enum"), #json::json!([#(#names),*]));
            #json::Value::Object(__m)
        }}
    } else {
        // Tagged variants are disjoint by their tag, so `anyOf` means the same as
        // `oneOf` here, and it is what the grammar engine enforces.
        let kw = "anyOf";
        quote! {{
            let mut __m = #json::Map::new();
            #desc
            __m.insert(::std::string::String::from(#kw), #json::Value::Array(::std::vec![#(#branches),*]));
            #json::Value::Object(__m)
        }}
    };

    // ---- decode ----
    let decode = match &repr {
        Repr::External => {
            let unit_arms = variants
                .iter()
                .filter(|v| matches!(v.style, Style::Unit))
                .map(|v| {
                    let (n, vi) = (&v.name, &v.ident);
                    quote!(#n => ::core::result::Result::Ok(Self::#vi),)
                });
            let data_arms = variants
                .iter()
                .filter(|v| !matches!(v.style, Style::Unit))
                .map(|v| {
                    let n = &v.name;
                    let d = payload_decode(ctx, v, quote!(__v));
                    quote!(#n => #d.map_err(|e| e.in_field(#n)),)
                });
            quote! {
                if let ::core::option::Option::Some(__s) = content.as_str() {
                    return match __s {
                        #(#unit_arms)*
                        _ => ::core::result::Result::Err(#k::__private::unknown_variant(__s)),
                    };
                }
                let (__k, __v) = #k::__private::single_property(content)?;
                match __k {
                    #(#data_arms)*
                    _ => ::core::result::Result::Err(#k::__private::unknown_variant(__k)),
                }
            }
        }
        Repr::Internal(t) => {
            let arms = variants.iter().map(|v| {
                let (n, vi) = (&v.name, &v.ident);
                let d = match &v.style {
                    Style::Named(fs) => {
                        object_decode(ctx, fs, quote!(Self::#vi), quote!(content), Some(t))
                    }
                    _ => object_decode(ctx, &[], quote!(Self::#vi), quote!(content), Some(t)),
                };
                quote!(#n => #d,)
            });
            quote! {
                let __p = #k::__private::expect_object(content)?;
                let __t: &str = #k::__private::tag(__p, #t)?;
                match __t {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#k::__private::unknown_variant(__t)),
                }
            }
        }
        Repr::Adjacent(t, c) => {
            let arms = variants.iter().map(|v| {
                let n = &v.name;
                let d = match &v.style {
                    Style::Unit => payload_decode(ctx, v, quote!(content)),
                    _ => {
                        let d = payload_decode(ctx, v, quote!(__v));
                        quote! {{
                            let __v = #k::__private::get(__p, #c).ok_or_else(|| #k::DecodeError::MissingField {
                                path: ::std::string::String::from("$"),
                                field: ::std::string::String::from(#c),
                            })?;
                            #d.map_err(|e| e.in_field(#c))
                        }}
                    }
                };
                quote!(#n => #d,)
            });
            quote! {
                let __p = #k::__private::expect_object(content)?;
                #k::__private::deny_unknown(__p, &[#t, #c])?;
                let __t: &str = #k::__private::tag(__p, #t)?;
                match __t {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#k::__private::unknown_variant(__t)),
                }
            }
        }
        Repr::Untagged => {
            let tries = variants.iter().map(|v| {
                let vi = &v.ident;
                match &v.style {
                    Style::Unit => quote! {
                        if content.is_null() { return ::core::result::Result::Ok(Self::#vi); }
                    },
                    _ => {
                        let d = payload_decode(ctx, v, quote!(content));
                        quote! {
                            if let ::core::result::Result::Ok(__x) = #d { return ::core::result::Result::Ok(__x); }
                        }
                    }
                }
            });
            quote! {
                #(#tries)*
                ::core::result::Result::Err(#k::__private::no_matching_variant(#tname))
            }
        }
    };

    // ---- partial ----
    let partial_body = match &repr {
        Repr::External => {
            let unit_arms = variants
                .iter()
                .filter(|v| matches!(v.style, Style::Unit))
                .map(|v| {
                    let (n, vi) = (&v.name, &v.ident);
                    quote!(#n => ::core::option::Option::Some(#partial::#vi),)
                });
            let data_arms = variants
                .iter()
                .filter(|v| !matches!(v.style, Style::Unit))
                .map(|v| {
                    let n = &v.name;
                    let p = payload_partial(ctx, v, quote!(__v));
                    quote!(#n => ::core::option::Option::Some(#p),)
                });
            quote! {
                if let ::core::option::Option::Some(__s) = content.as_str() {
                    if !content.is_complete() { return ::core::option::Option::None; }
                    return match __s {
                        #(#unit_arms)*
                        _ => ::core::option::Option::None,
                    };
                }
                let (__k, __v) = content.properties()?.next()?;
                match __k {
                    #(#data_arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
        Repr::Internal(t) | Repr::Adjacent(t, _) => {
            let adj = if let Repr::Adjacent(_, c) = &repr {
                Some(c)
            } else {
                None
            };
            let arms = variants.iter().map(|v| {
                let n = &v.name;
                let p = match (&v.style, adj) {
                    (Style::Unit, _) | (_, None) => payload_partial(ctx, v, quote!(content)),
                    (_, Some(c)) => {
                        let p = payload_partial(ctx, v, quote!(__v));
                        let empty = payload_partial_empty(ctx, v);
                        quote! {
                            match content.get(#c) {
                                ::core::option::Option::Some(__v) => #p,
                                ::core::option::Option::None => #empty,
                            }
                        }
                    }
                };
                quote!(#n => ::core::option::Option::Some(#p),)
            });
            quote! {
                let __t = content.get(#t)?;
                if !__t.is_complete() { return ::core::option::Option::None; }
                match __t.as_str()? {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
        Repr::Untagged => {
            let tries = variants.iter().map(|v| {
                let vi = &v.ident;
                match &v.style {
                    Style::Unit => quote! {
                        if content.is_null() && content.is_complete() { return ::core::option::Option::Some(#partial::#vi); }
                    },
                    Style::Named(fs) => {
                        let names: Vec<&String> = fs.iter().filter(|f| !f.attrs.skip).map(|f| &f.name).collect();
                        let p = payload_partial(ctx, v, quote!(content));
                        quote! {
                            if let ::core::option::Option::Some(mut __props) = content.properties() {
                                let __known: &[&str] = &[#(#names),*];
                                if __props.all(|(__k, _)| __known.contains(&__k)) {
                                    return ::core::option::Option::Some(#p);
                                }
                            }
                        }
                    }
                    Style::Tuple(_) => {
                        let d = payload_decode(ctx, v, quote!(content));
                        let p = payload_partial(ctx, v, quote!(content));
                        quote! {
                            if content.is_complete() {
                                let __ok: ::core::result::Result<Self, #k::DecodeError> = #d;
                                if __ok.is_ok() { return ::core::option::Option::Some(#p); }
                            }
                        }
                    }
                }
            });
            quote! {
                #(#tries)*
                ::core::option::Option::None
            }
        }
    };

    // ---- partial enum declaration ----
    let marker_ty = ctx.marker_ty();
    let mut decl_variants = Vec::new();
    let mut clone_arms = Vec::new();
    let mut eq_arms = Vec::new();
    let mut debug_arms = Vec::new();
    for v in variants {
        let vi = &v.ident;
        let vname = vi.to_string();
        let vdoc = format!(
            "Variant `{vname}` (`{}`), its fields as generated so far.",
            v.name
        );
        match &v.style {
            Style::Unit => {
                decl_variants.push(quote!(#[doc = #vdoc] #vi));
                clone_arms.push(quote!(Self::#vi => Self::#vi,));
                eq_arms.push(quote!((Self::#vi, Self::#vi) => true,));
                debug_arms.push(quote!(Self::#vi => __f.write_str(#vname),));
            }
            Style::Tuple(fs) => {
                let tys: Vec<TokenStream> = fs.iter().map(|f| ctx.partial_field_ty(f)).collect();
                let a: Vec<Ident> = (0..fs.len()).map(|i| format_ident!("__a{}", i)).collect();
                let b: Vec<Ident> = (0..fs.len()).map(|i| format_ident!("__b{}", i)).collect();
                decl_variants.push(quote!(#[doc = #vdoc] #vi(#(#tys),*)));
                clone_arms.push(
                    quote!(Self::#vi(#(#a),*) => Self::#vi(#(::core::clone::Clone::clone(#a)),*),),
                );
                eq_arms.push(
                    quote!((Self::#vi(#(#a),*), Self::#vi(#(#b),*)) => true #(&& #a == #b)*,),
                );
                debug_arms.push(
                    quote!(Self::#vi(#(#a),*) => __f.debug_tuple(#vname)#(.field(#a))*.finish(),),
                );
            }
            Style::Named(fs) => {
                let live: Vec<&Field> = fs.iter().filter(|f| !f.attrs.skip).collect();
                let tys: Vec<TokenStream> = live.iter().map(|f| ctx.partial_field_ty(f)).collect();
                let mem: Vec<&syn::Member> = live.iter().map(|f| &f.member).collect();
                let a: Vec<Ident> = (0..live.len()).map(|i| format_ident!("__a{}", i)).collect();
                let b: Vec<Ident> = (0..live.len()).map(|i| format_ident!("__b{}", i)).collect();
                let fdocs: Vec<String> = live
                    .iter()
                    .map(|f| {
                        format!(
                            "`{}` (JSON property `{}`), once generation of it has started.",
                            member_str(&f.member),
                            f.name
                        )
                    })
                    .collect();
                decl_variants.push(quote!(#[doc = #vdoc] #vi { #(#[doc = #fdocs] #mem: #tys),* }));
                clone_arms.push(quote!(Self::#vi { #(#mem: #a),* } => Self::#vi { #(#mem: ::core::clone::Clone::clone(#a)),* },));
                eq_arms.push(quote!((Self::#vi { #(#mem: #a),* }, Self::#vi { #(#mem: #b),* }) => true #(&& #a == #b)*,));
                debug_arms.push(quote!(Self::#vi { #(#mem: #a),* } => __f.debug_struct(#vname)#(.field(stringify!(#mem), #a))*.finish(),));
            }
        }
    }
    if let Some(mt) = &marker_ty {
        decl_variants.push(quote!(#[doc(hidden)] __Marker(::core::convert::Infallible, #mt)));
        clone_arms.push(quote!(Self::__Marker(__n, _) => match *__n {},));
        eq_arms.push(quote!((Self::__Marker(__n, _), _) => match *__n {},));
        debug_arms.push(quote!(Self::__Marker(__n, _) => match *__n {},));
    }
    let pdoc = format!(
        "Partial mirror of [`{0}`] while it streams: `<{0} as Generable>::Partial` is `Option<{1}>`, `None` until the variant is known; fields of the variant are optional, recursively.",
        ident, partial
    );

    let items = ctx.items.take();
    Ok(quote! {
        #items
        #[doc = #pdoc]
        #vis enum #partial<#params> #where_c {
            #(#decl_variants,)*
        }

        impl #impl_g ::core::clone::Clone for #partial #ty_g #where_c {
            fn clone(&self) -> Self {
                match self { #(#clone_arms)* }
            }
        }
        impl #impl_g ::core::cmp::PartialEq for #partial #ty_g #where_c {
            #[allow(unreachable_patterns)]
            fn eq(&self, __other: &Self) -> bool {
                match (self, __other) { #(#eq_arms)* _ => false }
            }
        }
        impl #impl_g ::core::fmt::Debug for #partial #ty_g #where_c {
            fn fmt(&self, __f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self { #(#debug_arms)* }
            }
        }

        impl #impl_g #k::Generable for #ident #ty_g #where_c {
            type Partial = ::core::option::Option<#partial #ty_g>;

            fn schema(__gen: &mut #k::SchemaGenerator) -> #k::__private::serde_json::Value {
                let __name = <Self as #k::Generable>::schema_name();
                __gen.define_type(::core::any::type_name::<Self>(), &__name, |__gen| #schema)
            }

            fn from_content(content: &#k::GeneratedContent) -> ::core::result::Result<Self, #k::DecodeError> {
                #decode
            }

            fn partial_from_content(content: &#k::GeneratedContent) -> Self::Partial {
                #partial_body
            }

            fn schema_name() -> ::std::string::String {
                #name_fn
            }
        }
    })
}
