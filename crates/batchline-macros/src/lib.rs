//! Procedural macros of batchline: `#[batchline::actions]` and `#[action]`.
//!
//! Use them through the `batchline` crate (`#[batchline::actions]`), not this one.
//!
//! # `#[batchline::actions]`
//!
//! On an inherent `impl` block of a batch type (a type implementing `batchline::Batch`), it
//! turns every method marked `#[action]` into a lazy pipeline step: a method of the same name
//! on `Pipeline<MyBatch>` that appends the action and returns the pipeline, so that steps
//! chain. Nothing runs until the pipeline does (`gen_batch`, `next_batch`, `run`).
//!
//! ```ignore
//! use std::path::PathBuf;
//! use batchline::{ActionResult, Arg, Context, RunSpec};
//!
//! #[batchline::actions]
//! impl MyBatch {
//!     /// Loads the batch's files from `dir`.
//!     #[action]
//!     fn load(&mut self, dir: PathBuf) -> ActionResult {
//!         self.data = read_items(&dir, self.ids())?;
//!         Ok(())
//!     }
//!
//!     /// Scales by `k`, with the batch's context (its number, its random generator).
//!     #[action(name = "scale by k")]
//!     fn scale(&mut self, k: f32, ctx: &mut Context) { /* ... */ }
//!
//!     /// Appends to a shared file: one batch at a time, in batch order.
//!     #[action(lock = "log file", ordered)]
//!     fn log(&self, path: PathBuf) -> Result<(), std::io::Error> { /* ... */ Ok(()) }
//!
//!     fn helper(&self) {} // not an action: left alone
//! }
//!
//! let pipeline = dataset
//!     .p()
//!     .load(PathBuf::from("data")) // a plain value
//!     .scale(Arg::from_fn(|ctx: &mut Context| ctx.batch() as f32)) // a lazy argument; no ctx
//!     .log(PathBuf::from("log.txt"));
//! pipeline.run(&RunSpec::new(32).prefetch(4))?;
//! ```
//!
//! ## Options
//!
//! * `#[batchline::actions(trait_name = MySteps)]`: the name of the generated trait (default:
//!   the type's name followed by `Actions`, e.g. `MyBatchActions`).
//! * `#[batchline::actions(vis = pub(crate))]`: its visibility (default: `pub`). Use a
//!   restricted one when the batch type or an argument type is not public.
//!
//! # `#[action]`
//!
//! Marks a method of an `#[batchline::actions]` block as an action. It needs no import:
//! `#[batchline::actions]` removes it. Its options, separated by commas:
//!
//! * `lock`: the action runs under a lock of its own, so at most one batch at a time runs it.
//!   The lock is named `"<module path>::<TypeName>::<method>"`, e.g. `"my_crate::io::MyBatch::log"`
//!   (`concat!(module_path!(), "::", "MyBatch", "::", "log")`).
//! * `lock = "name"`: the action runs under the named lock, shared by every action (and
//!   `Pipeline::acquire_lock` step) that names it.
//! * `ordered`: batches enter the action one at a time and in batch order, whatever prefetch
//!   does (`Action::ordered`). It combines with `lock` and also works alone.
//! * `name = "..."`: the step's name, as shown by `Pipeline::step_names`, events and errors
//!   (default: the method's name). The pipeline method keeps the method's name.
//!
//! Outside an `#[batchline::actions]` block, `#[action]` is a compile error.
//!
//! ## Action methods
//!
//! * The receiver is `&mut self` or `&self`.
//! * The other parameters are the step's arguments, each an owned value `x: T` (kept in the
//!   pipeline and cloned for every batch: `T: Clone + Send + Sync + 'static`). The pipeline
//!   method takes `x: impl Into<Arg<T>>`, so a plain `T` or a lazy `batchline::Arg<T>`
//!   (evaluated for each batch just before the action runs) can be passed.
//! * One parameter may be the batch's context: a reference to a type named `Context`
//!   (`ctx: &mut Context`, `ctx: &batchline::Context<'_>`). It is not an argument of the
//!   pipeline method: the executor passes each batch's context.
//! * The return type is `()`, `batchline::ActionResult`, or `Result<(), E>` for any error type
//!   that converts into `ActionError` (every `std::error::Error + Send + Sync + 'static`).
//! * No `async`, no `unsafe`, no type or const parameters (put them on the `impl` block), no
//!   reference or `impl Trait` arguments. The method cannot be named like a method of
//!   `Pipeline` (`run`, `apply`, ...), which would hide it.
//!
//! Breaking a rule is a compile error pointing at the offending tokens; the `impl` block is
//! still emitted, so the rest of the crate keeps compiling.
//!
//! # Generated code
//!
//! For `impl<G> MyBatch<G> where W { #[action] fn load(&mut self, dir: PathBuf, ctx: &mut
//! Context) -> R }`:
//!
//! ```text
//! impl<G> MyBatch<G> where W { fn load(...) -> R { ... } }   // the block, minus #[action]
//!
//! /// <the method's docs> + a generated line saying it is a lazy pipeline step
//! pub trait MyBatchActions<G>: Sized where W {
//!     fn load(self, dir: impl Into<Arg<PathBuf>>) -> Self;
//! }
//!
//! impl<G> MyBatchActions<G> for Pipeline<MyBatch<G>> where W {
//!     fn load(self, dir: impl Into<Arg<PathBuf>>) -> Self {
//!         let arg_0: Arg<PathBuf> = Into::into(dir);
//!         Pipeline::push(self, Action::new("load", move |batch: &mut MyBatch<G>,
//!                                                        ctx: &mut Context<'_>| -> ActionResult {
//!             let value_0 = arg_0.eval(&*batch as &dyn Any, ctx)?;
//!             IntoActionResult::into_action_result(<MyBatch<G>>::load(batch, value_0, ctx))
//!         })) // + .lock(name) with `lock`, + .ordered() with `ordered`
//!     }
//! }
//! ```
//!
//! Every path in the generated code is absolute (`::batchline::__private::...`, `::core::...`);
//! the locals (`arg_0`, `batch`, `ctx`, ...) are hygienic, so they never clash with the
//! method's parameter names. A method without a return type becomes `f(...); Ok(())`. A `&self`
//! method gets `&*batch`, a `&Context` parameter `&*ctx`.
//!
//! Call the steps with the trait in scope (`use my_crate::MyBatchActions;`).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, ToTokens};
use syn::{ImplItem, Item};

mod ast;
mod attr;
mod expand;
mod valid;

/// Turns the `#[action]` methods of an inherent `impl` block of a batch type into lazy
/// pipeline steps: methods of a generated trait implemented for `Pipeline<Self>`.
///
/// Options: `trait_name = Name` (default `<Type>Actions`), `vis = pub(crate)` (default `pub`).
/// See the [crate documentation](crate) for the rules and the generated code.
///
/// # Examples
///
/// ```ignore
/// #[batchline::actions]
/// impl MyBatch {
///     /// Adds `n` to every value.
///     #[action]
///     fn add_n(&mut self, n: u64) {
///         self.values.iter_mut().for_each(|v| *v += n);
///     }
/// }
///
/// let pipeline = dataset.p().add_n(3); // nothing runs yet
/// ```
#[proc_macro_attribute]
pub fn actions(args: TokenStream, item: TokenStream) -> TokenStream {
    let (tokens, errors) = expand_actions(args.into(), item.into());
    errors.emit_with(tokens).into()
}

/// Marks a method of an `#[batchline::actions]` block as an action; options `lock`,
/// `lock = "name"`, `ordered`, `name = "..."`.
///
/// `#[batchline::actions]` reads and removes it; anywhere else it is a compile error. See the
/// [crate documentation](crate).
///
/// # Examples
///
/// ```ignore
/// #[batchline::actions]
/// impl MyBatch {
///     #[action(lock = "output file", ordered)]
///     fn save(&self, path: PathBuf) -> Result<(), std::io::Error> { /* ... */ Ok(()) }
/// }
/// ```
#[proc_macro_attribute]
pub fn action(_args: TokenStream, item: TokenStream) -> TokenStream {
    let (item, errors) = action_outside_actions(item.into());
    errors.emit_with(item).into()
}

/// `#[action]` met on its own: the item, unchanged, and the error saying where it belongs.
fn action_outside_actions(item: TokenStream2) -> (TokenStream2, Errors) {
    let mut errors = Errors::default();
    errors.push(syn::Error::new(
        Span::call_site(),
        "`#[action]` only works on methods inside an `impl` block marked `#[batchline::actions]`",
    ));
    (item, errors)
}

/// The errors found so far, combined into one `syn::Error`.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// `tokens` followed by a `compile_error!` per error.
    fn emit_with(self, tokens: TokenStream2) -> TokenStream2 {
        let errors = self.0.map(|e| e.to_compile_error());
        quote!(#tokens #errors)
    }
}

/// What `#[batchline::actions]` emits: the tokens (the `impl` block without its `#[action]`
/// attributes, plus the generated trait when there is no error) and the errors found.
fn expand_actions(args: TokenStream2, item: TokenStream2) -> (TokenStream2, Errors) {
    let mut errors = Errors::default();
    let options = attr::parse_block_options(args).unwrap_or_else(|err| {
        errors.push(err);
        attr::BlockOptions::default()
    });
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(item)) => item,
        Ok(other) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "`#[batchline::actions]` goes on an inherent `impl` block of a batch type: \
                 `impl MyBatch { ... }`",
            ));
            return (other.into_token_stream(), errors);
        }
        Err(err) => {
            errors.push(err);
            return (item, errors);
        }
    };
    if let Some((bang, path, for_token)) = &item.trait_ {
        let self_ty = &item.self_ty;
        errors.push(syn::Error::new_spanned(
            quote!(#bang #path #for_token #self_ty),
            "`#[batchline::actions]` goes on an inherent `impl` block (`impl MyBatch { ... }`), \
             not on a trait implementation",
        ));
        for impl_item in &mut item.items {
            if let ImplItem::Fn(method) = impl_item {
                ast::take_action_attrs(&mut method.attrs);
            }
        }
        return (item.into_token_stream(), errors);
    }
    let block = ast::ActionsBlock::from_impl(&mut item, &mut errors);
    valid::check(&block, &mut errors);
    if errors.0.is_some() {
        return (item.into_token_stream(), errors);
    }
    match expand::expand(&options, &block) {
        Ok(generated) => (quote!(#item #generated), errors),
        Err(err) => {
            errors.push(err);
            (item.into_token_stream(), errors)
        }
    }
}

#[cfg(test)]
mod ui_tests;
