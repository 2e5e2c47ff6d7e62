//! The model of an `#[batchline::actions]` block, parsed from the `impl` item.

use syn::{Attribute, FnArg, Generics, ImplItem, ItemImpl, PatType, Receiver, Signature, Type};

use crate::attr::{self, ActionOptions};
use crate::Errors;

/// An inherent `impl` block marked `#[batchline::actions]`.
pub(crate) struct ActionsBlock {
    /// The batch type (`Self`).
    pub(crate) self_ty: Type,
    /// The impl's generics, with bounds and where clause.
    pub(crate) generics: Generics,
    /// The impl's `#[cfg]` attributes, copied onto the generated items.
    pub(crate) cfgs: Vec<Attribute>,
    /// The `#[action]` methods, in source order.
    pub(crate) actions: Vec<ActionMethod>,
    /// How many `#[action]` attributes were found, including those whose options are wrong.
    pub(crate) marked: usize,
}

/// One `#[action]` method.
pub(crate) struct ActionMethod {
    /// The method's signature, as written.
    pub(crate) sig: Signature,
    /// The method's doc comments.
    pub(crate) docs: Vec<Attribute>,
    /// The method's `#[cfg]` attributes.
    pub(crate) cfgs: Vec<Attribute>,
    /// The options of its `#[action(...)]`.
    pub(crate) options: ActionOptions,
    /// How it takes `self`.
    pub(crate) receiver: ReceiverKind,
    /// The parameters after the receiver.
    pub(crate) params: Vec<Param>,
}

/// How an action method takes `self`.
pub(crate) enum ReceiverKind {
    /// `&mut self` or `self: &mut Self`.
    Mut,
    /// `&self` or `self: &Self`.
    Shared,
    /// `self`, `mut self`, `self: Box<Self>`, ...
    ByValue(Receiver),
    /// `self: &Other`.
    OtherRef(Receiver),
    /// No receiver: an associated function.
    Missing,
}

/// A parameter of an action method (after the receiver).
pub(crate) struct Param {
    /// The parameter as written.
    pub(crate) arg: PatType,
    /// What it is.
    pub(crate) kind: ParamKind,
}

/// What a parameter of an action method is.
pub(crate) enum ParamKind {
    /// An argument of the pipeline step.
    Value,
    /// The batch's context (`&mut Context` or `&Context`).
    Context {
        /// Whether it is `&mut Context`.
        mutable: bool,
    },
}

impl ActionsBlock {
    /// Builds the model of `item`, removing the `#[action]` attributes from it.
    ///
    /// Errors in the attributes' options go to `errors`; their methods are left out.
    pub(crate) fn from_impl(item: &mut ItemImpl, errors: &mut Errors) -> Self {
        let mut actions = Vec::new();
        let mut marked = 0;
        for impl_item in &mut item.items {
            match impl_item {
                ImplItem::Fn(method) => {
                    let action_attrs = take_action_attrs(&mut method.attrs);
                    let Some((first, rest)) = action_attrs.split_first() else {
                        continue;
                    };
                    marked += 1;
                    for extra in rest {
                        errors.push(syn::Error::new_spanned(
                            extra,
                            "duplicate `#[action]` attribute: give all options in one \
                             `#[action(...)]`",
                        ));
                    }
                    match attr::parse_action_options(first) {
                        Ok(options) => {
                            actions.push(ActionMethod::new(&method.sig, &method.attrs, options))
                        }
                        Err(err) => errors.push(err),
                    }
                }
                ImplItem::Const(c) => misplaced(&mut c.attrs, errors),
                ImplItem::Type(t) => misplaced(&mut t.attrs, errors),
                ImplItem::Macro(m) => misplaced(&mut m.attrs, errors),
                _ => {}
            }
        }
        Self {
            self_ty: (*item.self_ty).clone(),
            generics: item.generics.clone(),
            cfgs: cfg_attrs(&item.attrs),
            actions,
            marked,
        }
    }
}

impl ActionMethod {
    fn new(sig: &Signature, attrs: &[Attribute], options: ActionOptions) -> Self {
        let mut receiver = ReceiverKind::Missing;
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => receiver = receiver_kind(r),
                FnArg::Typed(arg) => params.push(Param {
                    kind: match context_mutability(&arg.ty) {
                        Some(mutable) => ParamKind::Context { mutable },
                        None => ParamKind::Value,
                    },
                    arg: arg.clone(),
                }),
            }
        }
        Self {
            sig: sig.clone(),
            docs: attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect(),
            cfgs: cfg_attrs(attrs),
            options,
            receiver,
            params,
        }
    }
}

/// Removes the `#[action]` attributes from `attrs` and returns them.
pub(crate) fn take_action_attrs(attrs: &mut Vec<Attribute>) -> Vec<Attribute> {
    let (taken, kept) = std::mem::take(attrs)
        .into_iter()
        .partition(attr::is_action_attr);
    *attrs = kept;
    taken
}

/// Reports (and removes) `#[action]` attributes on an impl item that is not a method.
fn misplaced(attrs: &mut Vec<Attribute>, errors: &mut Errors) {
    for attr in take_action_attrs(attrs) {
        errors.push(syn::Error::new_spanned(
            attr,
            "`#[action]` marks methods only",
        ));
    }
}

fn cfg_attrs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .cloned()
        .collect()
}

fn receiver_kind(r: &Receiver) -> ReceiverKind {
    match strip_group(&r.ty) {
        Type::Reference(reference) => match strip_group(&reference.elem) {
            Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self") => {
                if reference.mutability.is_some() {
                    ReceiverKind::Mut
                } else {
                    ReceiverKind::Shared
                }
            }
            _ => ReceiverKind::OtherRef(r.clone()),
        },
        _ => ReceiverKind::ByValue(r.clone()),
    }
}

/// `Some(mutable)` when `ty` is a reference to a path whose last segment is `Context`.
fn context_mutability(ty: &Type) -> Option<bool> {
    let Type::Reference(reference) = strip_group(ty) else {
        return None;
    };
    let Type::Path(path) = strip_group(&reference.elem) else {
        return None;
    };
    let last = path.path.segments.last()?;
    (path.qself.is_none() && last.ident == "Context").then_some(reference.mutability.is_some())
}

/// `ty` without the invisible groups of `macro_rules!` expansions and parentheses.
pub(crate) fn strip_group(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => strip_group(&g.elem),
        Type::Paren(p) => strip_group(&p.elem),
        other => other,
    }
}
