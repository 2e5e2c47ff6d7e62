//! The rules an `#[batchline::actions]` block must follow, checked on the model.

use proc_macro2::Span;
use syn::{GenericParam, Type};

use crate::ast::{strip_group, ActionMethod, ActionsBlock, ParamKind, ReceiverKind};
use crate::Errors;

/// The methods of `Pipeline` that take `self`: an action of the same name would be hidden by
/// them (inherent methods win over trait methods), so it could never be called.
/// (Kept in sync with the library by the test `pipeline_methods_are_all_listed`.)
const PIPELINE_METHODS: &[&str] = &[
    "acquire_lock",
    "after",
    "apply",
    "apply_parallel",
    "before",
    "call",
    "checkpoint",
    "commit",
    "chain",
    "config",
    "dataset",
    "discard",
    "gen_batch",
    "inbatch_parallel",
    "init_state_variable",
    "init_variable",
    "join",
    "merge",
    "next_batch",
    "print",
    "print_to",
    "push",
    "release_lock",
    "repeat",
    "repeat_with",
    "reset",
    "reset_iter",
    "resume",
    "run",
    "set_config",
    "sometimes",
    "sometimes_with",
    "step_names",
    "update_variable",
    "variables",
    "with_config",
    "with_dataset",
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

#[cfg(test)]
mod tests {
    use super::PIPELINE_METHODS;

    /// Every public method of `Pipeline` in the library's `pipeline/` sources is in the list.
    #[test]
    fn pipeline_methods_are_all_listed() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../batchline/src/pipeline");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the library's pipeline/ folder") {
            let path = entry.expect("an entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let file = syn::parse_file(&std::fs::read_to_string(&path).expect("a source file"))
                .expect("the library's sources parse");
            for item in file.items {
                let syn::Item::Impl(block) = item else {
                    continue;
                };
                let is_pipeline = block.trait_.is_none()
                    && matches!(&*block.self_ty, syn::Type::Path(p)
                        if p.path.segments.last().is_some_and(|s| s.ident == "Pipeline"));
                if !is_pipeline {
                    continue;
                }
                for impl_item in block.items {
                    if let syn::ImplItem::Fn(method) = impl_item {
                        let public = matches!(method.vis, syn::Visibility::Public(_));
                        if public && method.sig.receiver().is_some() {
                            found.push(method.sig.ident.to_string());
                        }
                    }
                }
            }
        }
        assert!(
            found.len() >= 10,
            "expected Pipeline's methods in {}",
            dir.display()
        );
        let missing: Vec<_> = found
            .iter()
            .filter(|name| !PIPELINE_METHODS.contains(&name.as_str()))
            .collect();
        assert!(missing.is_empty(), "add to PIPELINE_METHODS: {missing:?}");
    }
}
