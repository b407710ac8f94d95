//! Orbit's own scalars, with the descriptions and `@specifiedBy` that
//! code generators and GraphiQL show. `DateTime` is async-graphql's, given
//! its description where the schema is built.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// What `DateTime` says of itself.
pub const DATE_TIME_DESCRIPTION: &str = "An instant in time: an RFC 3339 date and time with its offset, such as `2026-12-04T13:12:09.123456+00:00`. Output is in UTC (`+00:00`, with as many fractional digits as needed); input may carry any offset, or `Z`, and is read as that instant.";

/// Any JSON value (an object, an array, a string, a number, a boolean or
/// null), as RFC 8259 defines it, carried as itself, not as a string.
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub serde_json::Value);

/// Any JSON value (an object, an array, a string, a number, a boolean or null), as RFC 8259 defines it, written inline as itself, not as a string holding JSON.
#[Scalar(
    name = "JSON",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc8259"
)]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|error| InputValueError::custom(format!("not JSON: {error}")))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}
