//! The one place errors are shaped for clients: a stable `extensions.code`,
//! `extensions.details.field` when an input is at fault,
//! `extensions.details.retryAfter` (seconds) on `RATE_LIMITED` and
//! `UNAVAILABLE`, and never an
//! internal cause (that is logged with the request id).

use async_graphql::{ErrorExtensionValues, ServerError, Value};
use orbit_domain::{DomainError, ErrorCode};

use super::RequestId;

/// Returns the first error's code: the outcome of the operation in
/// `/metrics` and the access log.
pub(crate) fn present_errors(
    errors: &mut [ServerError],
    request_id: &RequestId,
) -> Option<ErrorCode> {
    let mut first = None;
    for error in errors {
        let code = present(error, request_id);
        first.get_or_insert(code);
    }
    first
}

fn present(error: &mut ServerError, request_id: &RequestId) -> ErrorCode {
    let (code, field, retry_after) = if let Some(domain) = error.source::<DomainError>().cloned() {
        if domain.code == ErrorCode::Internal {
            tracing::error!(request_id = %request_id.0, path = ?error.path, error = ?domain, "internal error");
            error.message = internal_message(request_id);
        } else if domain.code == ErrorCode::Unavailable {
            tracing::warn!(request_id = %request_id.0, path = ?error.path, error = ?domain, "a dependency is unavailable");
            error.message.clone_from(&domain.message);
        } else {
            error.message.clone_from(&domain.message);
        }
        (domain.code, domain.field, domain.retry_after)
    } else if error.source.is_some() {
        // Some other failure escaped a resolver: never show its text.
        tracing::error!(request_id = %request_id.0, path = ?error.path, message = %error.message, "unclassified resolver error");
        error.message = internal_message(request_id);
        (ErrorCode::Internal, None, None)
    } else {
        // Parse, validation and limit errors about the request itself.
        (ErrorCode::BadUserInput, None, None)
    };
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", code.as_str());
    let mut details = async_graphql::indexmap::IndexMap::new();
    if let Some(field) = field {
        details.insert(async_graphql::Name::new("field"), Value::from(field));
    }
    if let Some(seconds) = retry_after {
        details.insert(async_graphql::Name::new("retryAfter"), Value::from(seconds));
    }
    if !details.is_empty() {
        extensions.set("details", Value::Object(details));
    }
    code
}

/// When any of `errors` is `UNAVAILABLE` (after [`present_errors`]), the
/// longest wait they suggest: the answer is then HTTP 503 with it as
/// `Retry-After`.
pub(crate) fn unavailable_retry_after(errors: &[ServerError]) -> Option<i64> {
    errors
        .iter()
        .filter_map(|error| error.source::<DomainError>())
        .filter(|domain| domain.code == ErrorCode::Unavailable)
        .map(|domain| {
            domain
                .retry_after
                .unwrap_or(orbit_domain::UNAVAILABLE_RETRY_AFTER_SECS)
        })
        .max()
}

pub(crate) fn internal_message(request_id: &RequestId) -> String {
    format!("internal error (request id {})", request_id.0)
}
