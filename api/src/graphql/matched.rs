//! A union's value answered as the GraphQL spec says. When a field's value
//! is a member none of the selection's fragments names (an author who is a
//! `User` asked for `... on Agent { name }`), the value exists and nothing
//! of it was asked: the answer is `{}`. async-graphql answers `null` for an
//! object whose selection came to nothing, which a client reads as "no
//! value". Every union field's type is wrapped in [`Matched`].

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};

/// A union's value, answered `{}` rather than `null` when the selection
/// matched none of it. The same type in the schema as the union itself.
pub struct Matched<T>(pub T);

impl<T: OutputType> OutputType for Matched<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // A resolved union member is an object: `null` here can only be
        // a selection that came to nothing.
        match self.0.resolve(ctx, field).await? {
            Value::Null => Ok(Value::Object(Default::default())),
            value => Ok(value),
        }
    }
}
