//! `POST /graphql`, and queries by `GET /graphql` (GraphiQL, on a bare `GET`, is `graphiql.rs`).

use std::time::{Duration, Instant};

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbit_domain::{DomainError, ErrorCode};
use serde_json::json;

use super::HttpState;
use crate::application::oauth_login::RequestHost;
use crate::graphql::documents::{self, DocumentError};
use crate::graphql::observed::Operation;
use crate::graphql::{
    RequestId, attach_request_data, internal_message, present_errors, unavailable_retry_after,
};
use crate::limits::ClientAddr;
use crate::viewer;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Operations in one batched request; each is limited like a single request.
pub const MAX_BATCH_SIZE: usize = 10;

/// The credential of a request. A malformed `Authorization` header is an
/// error rather than no credential: treating it as anonymous would hide the
/// client's mistake behind the console app.
pub(super) fn credential(headers: &HeaderMap) -> Result<Option<&str>, DomainError> {
    let malformed =
        || DomainError::unauthenticated("the Authorization header must be `Bearer <key or token>`");
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| malformed())?;
        let (scheme, credential) = value.split_once(' ').ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(malformed());
        }
        return Ok(Some(credential));
    }
    match headers.get("x-api-key") {
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| DomainError::unauthenticated("the x-api-key header is not valid text")),
        None => Ok(None),
    }
}

/// `POST /graphql`: one operation or a batch, as JSON.
pub(super) async fn graphql(
    State(state): State<HttpState>,
    client_addr: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let request_id = request_id(&headers);
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(error) => {
            let error = DomainError::bad_input("body", format!("not a GraphQL request: {error}"));
            return refused(StatusCode::BAD_REQUEST, &error, &request_id, started);
        }
    };
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > MAX_BATCH_SIZE
    {
        let error = DomainError::bad_input(
            "body",
            format!("a batch may hold at most {MAX_BATCH_SIZE} operations"),
        );
        return refused(StatusCode::BAD_REQUEST, &error, &request_id, started);
    }
    answer(&state, client_addr, &headers, batch, request_id, started).await
}

/// `GET /graphql?query=…&variables=…&operationName=…&extensions=…`: a query
/// (never a mutation or a subscription, which change or hold state and go
/// by `POST` and WebSocket), as the GraphQL over HTTP spec has it; this is
/// also how Apollo's clients send persisted queries by hash.
pub(super) async fn graphql_get(
    state: &HttpState,
    client_addr: ClientAddr,
    headers: &HeaderMap,
    query_string: &str,
) -> Response {
    let started = Instant::now();
    let request_id = request_id(headers);
    let mut request = match request_from_query_string(query_string) {
        Ok(request) => request,
        Err(error) => return refused(StatusCode::BAD_REQUEST, &error, &request_id, started),
    };
    // The document is found (or parsed) here, to see what it would run.
    let runs = match state.documents.prepare(&mut request) {
        Ok(prepared) => prepared.runs,
        Err(error) => {
            let requested = request.operation_name.as_deref();
            let response = unknown_document(error, requested, started, &request_id);
            return json_response(StatusCode::OK, &response);
        }
    };
    if runs.is_some_and(|kind| kind != OperationType::Query) {
        let error = DomainError::bad_input(
            "query",
            "only queries may be sent with GET; send mutations with POST and subscriptions over WebSocket",
        );
        let mut response = refused(StatusCode::METHOD_NOT_ALLOWED, &error, &request_id, started);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    let mut response = answer(
        state,
        client_addr,
        headers,
        BatchRequest::Single(request),
        request_id,
        started,
    )
    .await;
    // The answer depends on the caller's credential: no shared cache may keep it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

fn request_id(headers: &HeaderMap) -> RequestId {
    RequestId(
        headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A GraphQL request from a URL's query string: `query`, `operationName`,
/// and `variables` and `extensions` as JSON.
fn request_from_query_string(query_string: &str) -> Result<async_graphql::Request, DomainError> {
    let mut request = async_graphql::Request::new("");
    for (name, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        match name.as_ref() {
            "query" => request.query = value.into_owned(),
            "operationName" => request.operation_name = Some(value.into_owned()),
            "variables" => request.variables = json_parameter("variables", &value)?,
            "extensions" => request.extensions = json_parameter("extensions", &value)?,
            _ => {}
        }
    }
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return Err(DomainError::bad_input(
            "query",
            "a GET request needs a query (or a persisted query's hash)",
        ));
    }
    Ok(request)
}

fn json_parameter<T: serde::de::DeserializeOwned>(
    field: &str,
    value: &str,
) -> Result<T, DomainError> {
    serde_json::from_str(value)
        .map_err(|error| DomainError::bad_input(field, format!("must be a JSON object: {error}")))
}

/// Runs what a `POST` or a `GET` asked, once its caller is known.
async fn answer(
    state: &HttpState,
    client_addr: ClientAddr,
    headers: &HeaderMap,
    batch: BatchRequest,
    request_id: RequestId,
    started: Instant,
) -> Response {
    let credential = match credential(headers) {
        Ok(credential) => credential,
        Err(error) => return refused(StatusCode::UNAUTHORIZED, &error, &request_id, started),
    };
    // Only a refused credential is a 401: clients sign their user out on
    // it, which an outage of the database must not cause.
    let viewer = match viewer::resolve(&state.services, credential).await {
        Ok(viewer) => viewer,
        Err(error) => {
            let status = match error.code {
                ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            return refused(status, &error, &request_id, started);
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|host| RequestHost(host.to_owned()));
    let schema = &state.schema;
    let request_id_ref = &request_id;
    let execute = |mut request: async_graphql::Request| {
        let prepared = state.documents.prepare(&mut request);
        let requested = request.operation_name.clone();
        let mut request = attach_request_data(request, &state.services, viewer, request_id.clone())
            .data(client_addr);
        if let Some(host) = &host {
            request = request.data(host.clone());
        }
        async move {
            let started = Instant::now();
            let operation = match prepared {
                Ok(prepared) => prepared.operation,
                Err(error) => {
                    return unknown_document(error, requested.as_deref(), started, request_id_ref);
                }
            };
            let mut response = schema.execute(request).await;
            let code = present_errors(&mut response.errors, request_id_ref);
            observe(
                &operation,
                code.map_or(OK, ErrorCode::as_str),
                started.elapsed(),
                request_id_ref,
            );
            response
        }
    };
    // Operations of a batch run one after another, each with its own loaders.
    let response = match batch {
        BatchRequest::Single(request) => BatchResponse::Single(execute(request).await),
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(execute(request).await);
            }
            BatchResponse::Batch(responses)
        }
    };
    let retry_after = match &response {
        BatchResponse::Single(single) => unavailable_retry_after(&single.errors),
        BatchResponse::Batch(many) => many
            .iter()
            .filter_map(|single| unavailable_retry_after(&single.errors))
            .max(),
    };
    // A dependency down (or the server too busy): 503 and when to try
    // again, the body saying which operations ran (in a batch, the others
    // may have).
    if let Some(seconds) = retry_after {
        return with_retry_after(
            json_response(StatusCode::SERVICE_UNAVAILABLE, &response),
            seconds,
        );
    }
    json_response(StatusCode::OK, &response)
}

/// A request whose document could not be had (a persisted query's hash
/// not known here, or a malformed persisted query) or was refused before
/// it ran (over a shape limit, NUL in its input): answered without
/// running, and counted like any operation.
fn unknown_document(
    error: DocumentError,
    requested: Option<&str>,
    started: Instant,
    request_id: &RequestId,
) -> async_graphql::Response {
    let not_found = matches!(error, DocumentError::PersistedQueryNotFound);
    let mut errors = vec![error.into_server_error()];
    // Apollo's clients look for this code and message exactly as they are.
    let code = if not_found {
        documents::PERSISTED_QUERY_NOT_FOUND
    } else {
        present_errors(&mut errors, request_id).map_or(OK, ErrorCode::as_str)
    };
    observe(
        &Operation::unknown(requested),
        code,
        started.elapsed(),
        request_id,
    );
    async_graphql::Response::from_errors(errors)
}

fn with_retry_after(mut response: Response, seconds: i64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => {
            tracing::error!(error = %error, "serialising a GraphQL response failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The outcome label of an operation without errors.
pub(super) const OK: &str = "OK";

/// Counts one operation in `/metrics` and writes its access log line.
/// Labels are static or shared strings: nothing is formatted per request
/// but the log line itself.
pub(super) fn observe(
    operation: &Operation,
    code: &'static str,
    elapsed: Duration,
    request_id: &RequestId,
) {
    metrics::counter!(
        "orbit_graphql_operations_total",
        "type" => operation.kind,
        "operation" => operation.name.clone(),
        "code" => code,
    )
    .increment(1);
    metrics::histogram!(
        "orbit_graphql_operation_duration_seconds",
        "type" => operation.kind,
        "operation" => operation.name.clone(),
    )
    .record(elapsed.as_secs_f64());
    tracing::info!(
        target: "orbit::access",
        request_id = %request_id.0,
        operation = %operation.name,
        operation_type = operation.kind,
        outcome = code,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "graphql"
    );
}

/// A request refused before any operation ran: counted and logged as an
/// operation of `unknown` type, then answered in the GraphQL error shape.
fn refused(
    status: StatusCode,
    error: &DomainError,
    request_id: &RequestId,
    started: Instant,
) -> Response {
    observe(
        &crate::graphql::observed::Operation {
            kind: "unknown",
            name: metrics::SharedString::const_str(crate::telemetry::ANONYMOUS),
        },
        error.code.as_str(),
        started.elapsed(),
        request_id,
    );
    error_response(status, error, request_id)
}

/// A request refused before execution, in the GraphQL error shape.
fn error_response(status: StatusCode, error: &DomainError, request_id: &RequestId) -> Response {
    let mut extensions = json!({ "code": error.code.as_str() });
    if let Some(field) = &error.field {
        extensions["details"] = json!({ "field": field });
    }
    if let Some(seconds) = error.retry_after {
        extensions["details"]["retryAfter"] = json!(seconds);
    }
    let message = match error.code {
        ErrorCode::Internal => {
            tracing::error!(request_id = %request_id.0, error = ?error, "internal error");
            internal_message(request_id)
        }
        ErrorCode::Unavailable => {
            tracing::warn!(request_id = %request_id.0, error = ?error, "a dependency is unavailable");
            error.message.clone()
        }
        _ => error.message.clone(),
    };
    let response = json_response(
        status,
        &json!({ "errors": [{ "message": message, "extensions": extensions }] }),
    );
    match error.retry_after {
        Some(seconds) => with_retry_after(response, seconds),
        None => response,
    }
}
