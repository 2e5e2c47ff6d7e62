//! The misuse cases in `ui/`: each file is a small crate whose expected errors are written as
//! comments, `//~ ERROR <message>` at the end of the line the error points at, or
//! `//~^ ERROR <message>` on a line of its own for the line above it. An error that points at
//! the whole attribute (the macro's call site) is expected on the attribute's line.
//!
//! The test runs the macros' expansion on each file's items and compares every error's message
//! and line with the expected ones. That the errors really stop a build is checked by the
//! `compile_fail` doctests of the `batchline` crate.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::path::Path;

/// One error: its line (1-based) and message.
type Found = (usize, String);

/// The `//~` markers of a case file.
fn expected(source: &str) -> Vec<Found> {
    let mut found = Vec::new();
    let mut last_code_line = 0;
    for (i, line) in source.lines().enumerate() {
        if let Some((_, message)) = line.split_once("//~^ ERROR ") {
            found.push((last_code_line, message.trim().to_owned()));
            continue;
        }
        last_code_line = i + 1;
        if let Some((_, message)) = line.split_once("//~ ERROR ") {
            found.push((i + 1, message.trim().to_owned()));
        }
    }
    found.sort();
    found
}

/// The attribute's last path segment (`actions` for `#[batchline::actions]`), with its
/// arguments and line.
fn macro_attr(attrs: &mut Vec<syn::Attribute>, name: &str) -> Option<(TokenStream, usize)> {
    let at = attrs
        .iter()
        .position(|a| a.path().segments.last().is_some_and(|s| s.ident == name))?;
    let attr = attrs.remove(at);
    let line = attr.pound_token.span.start().line;
    let args = match attr.meta {
        syn::Meta::List(list) => list.tokens,
        _ => TokenStream::new(),
    };
    Some((args, line))
}

/// The line an error points at; the call site stands for the attribute's line.
fn error_line(span: Span, attr_line: usize) -> usize {
    let call_site = Span::call_site();
    if (span.start(), span.end()) == (call_site.start(), call_site.end()) {
        attr_line
    } else {
        span.start().line
    }
}

/// Expands every `#[batchline::actions]` item (and every stray `#[action]` method) of a case
/// file, and returns the errors, after checking that the item is still emitted.
fn run_case(path: &Path, source: &str) -> Vec<Found> {
    let file = syn::parse_file(source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut found = Vec::new();
    let mut record = |errors: crate::Errors, attr_line: usize| {
        for error in errors.0.into_iter().flatten() {
            found.push((error_line(error.span(), attr_line), error.to_string()));
        }
    };
    for mut item in file.items {
        let attrs = match &mut item {
            syn::Item::Impl(item) => &mut item.attrs,
            syn::Item::Struct(item) => &mut item.attrs,
            syn::Item::Fn(item) => &mut item.attrs,
            _ => continue,
        };
        if let Some((args, attr_line)) = macro_attr(attrs, "actions") {
            let (tokens, errors) = crate::expand_actions(args, item.into_token_stream());
            let emitted = syn::parse2::<syn::File>(tokens)
                .unwrap_or_else(|e| panic!("{}: emitted tokens do not parse: {e}", path.display()));
            assert!(
                !emitted.to_token_stream().to_string().contains("# [action"),
                "{}: an #[action] attribute was left in the emitted code",
                path.display()
            );
            record(errors, attr_line);
        } else if let syn::Item::Impl(block) = &mut item {
            for impl_item in &mut block.items {
                if let syn::ImplItem::Fn(method) = impl_item {
                    if let Some((_, attr_line)) = macro_attr(&mut method.attrs, "action") {
                        let (_, errors) = crate::action_outside_actions(method.to_token_stream());
                        record(errors, attr_line);
                    }
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_case_gives_its_errors_at_its_lines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("the ui/ folder")
        .map(|entry| entry.expect("a ui/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 16,
        "expected the misuse cases in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let source = std::fs::read_to_string(path).expect("a readable case");
        let want = expected(&source);
        assert!(
            !want.is_empty(),
            "{}: no `//~ ERROR` marker",
            path.display()
        );
        let got = run_case(path, &source);
        if got != want {
            failures.push(format!(
                "{}:\n  expected {want:#?}\n  got      {got:#?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn markers_are_read_from_the_line_or_the_line_above() {
    let source = "fn a() {} //~ ERROR first\n//~^ ERROR second\n\nfn b() {}\n//~^ ERROR third\n";
    assert_eq!(
        expected(source),
        vec![
            (1, "first".to_owned()),
            (1, "second".to_owned()),
            (4, "third".to_owned())
        ]
    );
}
