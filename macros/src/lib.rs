//! `#[boxed]`: an `async fn` whose state machine is compiled once, in the
//! crate that defines it.
//!
//! rustc compiles an `async fn`'s state machine (and everything it awaits
//! in turn) in every crate that awaits it, even when the function is not
//! generic, and `#[inline(never)]` does not change that. `orbit-api` awaits
//! a few hundred functions of `orbit-persistence`, so their bodies and the
//! `sea-orm` and `sqlx` code behind them were optimised twice, once in each
//! crate, on the longest step of a build. A function marked `#[boxed]`
//! keeps its signature for callers (it is still awaited the same way) but
//! hands back its state machine boxed, from a function that is never
//! inlined: the caller polls it through a vtable and compiles none of it.
//! The price is one allocation per call.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, GenericParam, ItemFn, Lifetime, ParenthesizedGenericArguments, ReturnType, Token, Type,
    TypeBareFn, TypeReference, parse_macro_input,
};

/// Turns `async fn f(..) -> T { body }` into a never-inlined
/// `fn f(..) -> impl Future<Output = T> + Send` that returns the body's
/// future boxed. The function must not be generic over types (a generic
/// function is compiled where it is used whatever is done here); lifetimes
/// are fine. A method names the lifetimes of its `impl` that its arguments
/// or `self` hold (`#[boxed('db)]`). Each elided lifetime of the arguments
/// gets a name, and the boxed future lives as long as the shortest of them.
#[proc_macro_attribute]
pub fn boxed(attr: TokenStream, item: TokenStream) -> TokenStream {
    let outer = parse_macro_input!(attr with Punctuated::<Lifetime, Token![,]>::parse_terminated);
    let function = parse_macro_input!(item as ItemFn);
    match boxed_fn(function, outer.into_iter().collect()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn boxed_fn(mut function: ItemFn, outer: Vec<Lifetime>) -> syn::Result<proc_macro2::TokenStream> {
    let signature = &mut function.sig;
    if signature.asyncness.take().is_none() {
        return Err(syn::Error::new(
            signature.fn_token.span(),
            "#[boxed] is for an `async fn`",
        ));
    }
    if let Some(param) = signature
        .generics
        .params
        .iter()
        .find(|param| !matches!(param, GenericParam::Lifetime(_)))
    {
        return Err(syn::Error::new(
            param.span(),
            "#[boxed] is for functions generic over lifetimes only: a function generic over types is compiled where it is used anyway",
        ));
    }
    if let Some(argument) = signature.inputs.iter().find(|argument| match argument {
        FnArg::Typed(typed) => matches!(*typed.ty, Type::ImplTrait(_)),
        FnArg::Receiver(_) => false,
    }) {
        return Err(syn::Error::new(
            argument.span(),
            "#[boxed] is for functions without `impl Trait` arguments (they make it generic)",
        ));
    }
    // The boxed future borrows every argument: name each elided lifetime so
    // that the future's own lifetime can be bounded by all of them.
    let mut named = NameElided::default();
    for argument in signature.inputs.iter_mut() {
        match argument {
            FnArg::Receiver(receiver) => {
                if let Some((_, lifetime @ None)) = &mut receiver.reference {
                    *lifetime = Some(named.fresh());
                }
            }
            FnArg::Typed(typed) => named.visit_type_mut(&mut typed.ty),
        }
    }
    let declared: Vec<Lifetime> = signature
        .generics
        .lifetimes()
        .map(|param| param.lifetime.clone())
        .chain(outer)
        .collect();
    for lifetime in &named.lifetimes {
        signature.generics.params.push(syn::parse_quote!(#lifetime));
    }
    signature.generics.params.push(syn::parse_quote!('boxed));
    let where_clause = signature.generics.make_where_clause();
    for lifetime in declared.iter().chain(&named.lifetimes) {
        where_clause
            .predicates
            .push(syn::parse_quote!(#lifetime: 'boxed));
    }
    let output = match &signature.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    signature.output = syn::parse_quote!(
        -> impl ::core::future::Future<Output = #output> + ::core::marker::Send
    );
    let body = &function.block;
    function.block = syn::parse_quote!({
        let future: ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::core::future::Future<Output = #output> + ::core::marker::Send + 'boxed,
            >,
        > = ::std::boxed::Box::pin(async move #body);
        future
    });
    function.attrs.push(syn::parse_quote!(#[inline(never)]));
    Ok(quote!(#function))
}

/// Gives a name to every elided lifetime in an argument's type (`&T`,
/// `'_`), leaving function-pointer and `Fn(..)` types alone: their elided
/// lifetimes are their own.
#[derive(Default)]
struct NameElided {
    lifetimes: Vec<Lifetime>,
}

impl NameElided {
    fn fresh(&mut self) -> Lifetime {
        let lifetime = Lifetime::new(
            &format!("'boxed_argument{}", self.lifetimes.len()),
            Span::call_site(),
        );
        self.lifetimes.push(lifetime.clone());
        lifetime
    }
}

impl VisitMut for NameElided {
    fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
        if reference.lifetime.is_none() {
            reference.lifetime = Some(self.fresh());
        }
        visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            *lifetime = self.fresh();
        }
    }

    fn visit_type_bare_fn_mut(&mut self, _: &mut TypeBareFn) {}

    fn visit_parenthesized_generic_arguments_mut(&mut self, _: &mut ParenthesizedGenericArguments) {
    }
}
