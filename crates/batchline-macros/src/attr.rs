//! The options of `#[batchline::actions(...)]` and `#[action(...)]`.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Meta, Path, Token, Visibility};

/// The options of `#[batchline::actions(...)]`.
#[derive(Default)]
pub(crate) struct BlockOptions {
    /// `trait_name = Name`: the name of the generated trait.
    pub(crate) trait_name: Option<Ident>,
    /// `vis = pub(crate)`: the visibility of the generated trait.
    pub(crate) vis: Option<Visibility>,
}

/// Parses the arguments of `#[batchline::actions(...)]`.
pub(crate) fn parse_block_options(args: TokenStream) -> syn::Result<BlockOptions> {
    let mut options = BlockOptions::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("trait_name") {
            if options.trait_name.is_some() {
                return Err(meta.error("duplicate option `trait_name`"));
            }
            let value = meta.value()?;
            let name = value.parse::<Ident>().map_err(|err| {
                syn::Error::new(
                    err.span(),
                    "expected the trait's name, e.g. `trait_name = MyBatchSteps`",
                )
            })?;
            options.trait_name = Some(name);
            Ok(())
        } else if meta.path.is_ident("vis") {
            if options.vis.is_some() {
                return Err(meta.error("duplicate option `vis`"));
            }
            let value = meta.value()?;
            let vis = value.parse::<Visibility>()?;
            if matches!(vis, Visibility::Inherited) && !value.is_empty() && !value.peek(Token![,]) {
                return Err(value.error("expected a visibility, e.g. `vis = pub(crate)`"));
            }
            options.vis = Some(vis);
            Ok(())
        } else {
            Err(syn::Error::new_spanned(
                &meta.path,
                format!(
                    "unknown option `{}` of `#[batchline::actions]`; expected `trait_name = Name` \
                     or `vis = pub(crate)`",
                    path_to_string(&meta.path)
                ),
            ))
        }
    });
    parser.parse2(args)?;
    Ok(options)
}

/// The lock an action runs under.
pub(crate) enum Lock {
    /// `lock`: a lock of its own, named after the type and the method.
    Own,
    /// `lock = "name"`: the named lock.
    Named(LitStr),
}

/// The options of one `#[action(...)]`.
#[derive(Default)]
pub(crate) struct ActionOptions {
    /// `lock` or `lock = "name"`.
    pub(crate) lock: Option<Lock>,
    /// `ordered`.
    pub(crate) ordered: bool,
    /// `name = "..."`: the step's name (default: the method's name).
    pub(crate) name: Option<LitStr>,
}

/// Whether `attr` is `#[action]` (or `#[batchline::action]`, `#[::batchline::action]`).
pub(crate) fn is_action_attr(attr: &Attribute) -> bool {
    let path = attr.path();
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match names.as_slice() {
        [name] => name == "action" && path.leading_colon.is_none(),
        [krate, name] => krate == "batchline" && name == "action",
        _ => false,
    }
}

/// Parses the options of an `#[action]` attribute.
pub(crate) fn parse_action_options(attr: &Attribute) -> syn::Result<ActionOptions> {
    let list = match &attr.meta {
        Meta::Path(_) => return Ok(ActionOptions::default()),
        Meta::List(list) => list,
        Meta::NameValue(nv) => {
            return Err(syn::Error::new_spanned(
                nv,
                "`#[action]` takes its options in parentheses, e.g. `#[action(lock, ordered)]`",
            ))
        }
    };
    let mut options = ActionOptions::default();
    let (mut seen_lock, mut seen_ordered, mut seen_name) = (false, false, false);
    list.parse_nested_meta(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        let duplicate =
            || syn::Error::new_spanned(&meta.path, format!("duplicate action option `{key}`"));
        match key.as_str() {
            "lock" => {
                if std::mem::replace(&mut seen_lock, true) {
                    return Err(duplicate());
                }
                if meta.input.peek(Token![=]) {
                    let expr: Expr = meta.value()?.parse()?;
                    let name = string_literal(&expr, "the lock name must be a string literal")?;
                    if name.value().is_empty() {
                        return Err(syn::Error::new_spanned(
                            &name,
                            "the lock name must not be empty",
                        ));
                    }
                    options.lock = Some(Lock::Named(name));
                } else if meta.input.peek(syn::token::Paren) {
                    return Err(meta.error("write `lock` or `lock = \"name\"`"));
                } else {
                    options.lock = Some(Lock::Own);
                }
            }
            "ordered" => {
                if std::mem::replace(&mut seen_ordered, true) {
                    return Err(duplicate());
                }
                if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
                    return Err(meta.error("`ordered` takes no value: write `#[action(ordered)]`"));
                }
                options.ordered = true;
            }
            "name" => {
                if std::mem::replace(&mut seen_name, true) {
                    return Err(duplicate());
                }
                let expr: Expr = meta.value()?.parse()?;
                let name = string_literal(&expr, "the action name must be a string literal")?;
                if name.value().is_empty() {
                    return Err(syn::Error::new_spanned(
                        &name,
                        "the action name must not be empty",
                    ));
                }
                options.name = Some(name);
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &meta.path,
                    format!(
                        "unknown action option `{}`; expected `lock`, `lock = \"name\"`, \
                         `ordered` or `name = \"...\"`",
                        path_to_string(&meta.path)
                    ),
                ))
            }
        }
        Ok(())
    })?;
    Ok(options)
}

/// The string literal `expr`, or an error with `message` pointing at it.
fn string_literal(expr: &Expr, message: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        _ => Err(syn::Error::new_spanned(expr, message)),
    }
}

/// `a::b::c` as written (without the spaces of `TokenStream::to_string`).
fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let joined = segments.join("::");
    if path.leading_colon.is_some() {
        format!("::{joined}")
    } else {
        joined
    }
}
