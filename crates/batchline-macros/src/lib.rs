//! Procedural macros of batchline: `#[actions]` and `#[action]`.
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn actions(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Placeholder.
#[proc_macro_attribute]
pub fn action(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
