//! The rules an `#[batchline::actions]` block must follow, checked on the model.

use proc_macro2::Span;
use syn::{GenericParam, Type};

use crate::ast::{strip_group, ActionMethod, ActionsBlock, ParamKind, ReceiverKind};
use crate::Errors;

/// The methods of `Pipeline` that take `self`: an action of the same name would be hidden by
/// them (inherent methods win over trait methods), so it could never be called.
const PIPELINE_METHODS: &[&str] = &[
    "dataset",
    "step_names",
    "push",
    "apply",
    "acquire_lock",
    "release_lock",
    "gen_batch",
    "next_batch",
    "reset_iter",
    "run",
];

/// Checks `block`, adding one error per broken rule to `errors`.
pub(crate) fn check(block: &ActionsBlock, errors: &mut Errors) {
    if block.marked == 0 {
        errors.push(syn::Error::new(
            Span::call_site(),
            "no #[action] methods: mark methods with #[action]",
        ));
    }
    for action in &block.actions {
        check_action(action, errors);
    }
}

fn check_action(action: &ActionMethod, errors: &mut Errors) {
    let sig = &action.sig;
    match &action.receiver {
        ReceiverKind::Mut | ReceiverKind::Shared => {}
        ReceiverKind::ByValue(r) => errors.push(syn::Error::new_spanned(
            r,
            "an action takes `&mut self` or `&self`, not `self` by value",
        )),
        ReceiverKind::OtherRef(r) => errors.push(syn::Error::new_spanned(
            r,
            "an action takes `&mut self` or `&self`",
        )),
        ReceiverKind::Missing => errors.push(syn::Error::new(
            sig.paren_token.span.join(),
            "an action is a method: it takes `&mut self` or `&self`",
        )),
    }
    if let Some(asyncness) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            asyncness,
            "an action cannot be `async`: actions run synchronously on the pipeline's threads",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            "an action cannot be an `unsafe fn`: the pipeline calls it without checking any \
             precondition",
        ));
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Type(_) | GenericParam::Const(_) => {
                errors.push(syn::Error::new_spanned(
                    param,
                    "an action method cannot have type or const parameters: put them on the \
                     `impl` block (`impl<T> MyBatch<T> { ... }`)",
                ));
            }
            GenericParam::Lifetime(_) => {}
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "an action method cannot have a `where` clause: put the bounds on the `impl` block",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "an action cannot be variadic",
        ));
    }
    let method = sig.ident.to_string();
    if PIPELINE_METHODS.contains(&method.as_str()) {
        errors.push(syn::Error::new_spanned(
            &sig.ident,
            format!(
                "an action method cannot be named `{method}`: `Pipeline::{method}` would hide \
                 it; rename the method (`#[action(name = \"...\")]` only renames the step)"
            ),
        ));
    }
    let mut context_seen = false;
    for param in &action.params {
        match param.kind {
            ParamKind::Context { .. } => {
                if std::mem::replace(&mut context_seen, true) {
                    errors.push(syn::Error::new_spanned(
                        &param.arg,
                        "an action takes at most one context parameter (`ctx: &mut Context`)",
                    ));
                }
            }
            ParamKind::Value => match strip_group(&param.arg.ty) {
                Type::ImplTrait(ty) => errors.push(syn::Error::new_spanned(
                    ty,
                    "an action argument cannot be `impl Trait`: take a concrete type, or add a \
                     type parameter to the `impl` block",
                )),
                Type::Reference(ty) => errors.push(syn::Error::new_spanned(
                    ty,
                    "action arguments are owned values (they are kept in the pipeline and \
                     cloned for every batch); take `T`, not `&T`",
                )),
                _ => {}
            },
        }
    }
}
