//! The HTTP surface: `/graphql`, the OAuth device flow (`/oauth/...`, the
//! `/device` page), health and readiness, and the layers every
//! request passes (request ids, tracing, timeouts, body limit, CORS).

mod client_addr;
mod console;
mod device_page;
mod graphiql;
mod graphql_handler;
mod mcp;
pub(crate) mod oauth;
mod oauth_login;
pub(crate) mod serve;
mod shared_delivery;
mod stream_set;
pub(crate) mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::Services;
use crate::config::Settings;
use crate::graphql::OrbitSchema;

pub use client_addr::TrustedProxies;
pub use graphql_handler::{MAX_BATCH_SIZE, MAX_BODY_BYTES};
pub use ws::MAX_OPERATIONS;

/// What every handler reads, behind one `Arc`: axum clones the state for
/// each request (and each extractor of it), and a clone of the fields
/// themselves was a dozen atomic counts and a string copy (2–3 % of the
/// samples in a profile of `sendMessage`; too little to show in a timed
/// A/B, docs/benchmarks.md).
#[derive(Clone)]
pub(crate) struct HttpState(std::sync::Arc<SharedState>);

impl std::ops::Deref for HttpState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub(crate) struct SharedState {
    pub services: Services,
    pub schema: OrbitSchema,
    /// Renders subscriptions' events ([`crate::graphql::Schemas::render`]).
    pub render_schema: OrbitSchema,
    pub graphiql: bool,
    /// `ORBIT_PUBLIC_URL`, for links the server hands out.
    pub public_url: Option<String>,
    pub ws: ws::WsConfig,
    /// Whose `X-Forwarded-For` names the client (`ORBIT_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// `ORBIT_METRICS_TOKEN`: when set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<String>,
    /// Parsed documents and persisted queries, kept for the process.
    pub documents: crate::graphql::documents::Documents,
    /// True once the process was told to stop (its shutdown grace).
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

pub(crate) fn router(
    services: Services,
    schemas: crate::graphql::Schemas,
    settings: &Settings,
    ws: ws::WsConfig,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let state = HttpState(std::sync::Arc::new(SharedState {
        services,
        schema: schemas.requests,
        render_schema: schemas.render,
        graphiql: settings.graphiql,
        public_url: settings.public_url.clone(),
        ws,
        trusted_proxies: TrustedProxies::new(settings.trusted_proxies.clone()),
        metrics_token: settings
            .metrics_token
            .as_ref()
            .map(|token| token.expose().to_owned()),
        documents: crate::graphql::document_store(settings),
        stopping,
    }));
    let metrics_route = if settings.metrics {
        // Installs the recorder (once per process) before the first request.
        crate::telemetry::handle();
        get(metrics)
    } else {
        get(|| async { StatusCode::NOT_FOUND })
    };
    let request_id = HeaderName::from_static("x-request-id");
    let cors = cors(&settings.cors);
    Router::new()
        .route(
            "/graphql",
            get(graphql_get).post(graphql_handler::graphql),
        )
        .route("/oauth/device/authorize", post(oauth::device_authorize))
        .route("/oauth/token", post(oauth::token))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/graphiql/{name}", get(graphiql::asset))
        .route("/console", get(console::page))
        .route("/console/{name}", get(console::script))
        .route("/device", get(device_page::page))
        .route("/oauth/authorize/{provider}", get(oauth_login::authorize))
        .route(crate::application::oauth_login::CALLBACK_PATH, get(oauth_login::callback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", metrics_route)
        .merge(
            Router::new()
                .route_service("/mcp", mcp::service(&state))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    mcp::authenticate,
                )),
        )
        // A route layer: it runs once the route is known, so the route's
        // pattern (not the raw path) is the label.
        .route_layer(axum::middleware::from_fn(count_request))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            close_while_stopping,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(cors)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Which origins may call from a browser, with which headers. Credentials
/// travel in headers, never cookies, so by default any origin may call:
/// a page of another origin can only send what its own user gave it.
/// The settings were checked when loaded; a value that still does not
/// convert is left out rather than stop the server.
fn cors(settings: &crate::config::CorsSettings) -> CorsLayer {
    let origins = if settings.origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            settings
                .origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        )
    };
    let headers: Vec<HeaderName> = settings
        .headers
        .iter()
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(headers)
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions; a query when the
/// URL carries one; else GraphiQL.
async fn graphql_get(State(state): State<HttpState>, request: Request) -> Response {
    let wants_socket = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (parts, body) = request.into_parts();
    let client_addr = client_addr::client_addr(&parts, &state);
    if !wants_socket {
        return match parts.uri.query().filter(|query| !query.is_empty()) {
            Some(query) => {
                graphql_handler::graphql_get(&state, client_addr, &parts.headers, query).await
            }
            None => graphiql::page(State(state)).await,
        };
    }
    let request = Request::from_parts(parts, body);
    match WebSocketUpgrade::from_request(request, &state).await {
        Ok(upgrade) => ws::upgrade(state, upgrade, Some(client_addr)),
        Err(rejection) => rejection.into_response(),
    }
}

/// `GET /metrics`: the Prometheus text exposition (docs/operations.md).
/// With `ORBIT_METRICS_TOKEN` set it wants `Authorization: Bearer <token>`.
async fn metrics(State(state): State<HttpState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            token.as_bytes(),
        )) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "the metrics token is missing or wrong",
            )
                .into_response();
        }
    }
    let body = crate::telemetry::render(&state.services).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Counts and times every routed request by its route pattern and status.
async fn count_request(
    path: Option<axum::extract::MatchedPath>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = match &path {
        Some(path) => crate::telemetry::route_label(path.as_str()),
        None => metrics::SharedString::const_str("unmatched"),
    };
    let status = status_label(response.status());
    metrics::counter!("orbit_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("orbit_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The status as a static label: the codes Orbit answers with, else the class.
fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        101 => "101",
        200 => "200",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        429 => "429",
        500 => "500",
        503 => "503",
        code => match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// While the process is stopping, each answer closes its connection
/// (hyper honours the header), so a proxy keeps no idle connection to it
/// that it could write a request into as the process closes it. A
/// WebSocket upgrade keeps its own `Connection: upgrade`.
async fn close_while_stopping(
    State(state): State<HttpState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    if *state.stopping.borrow() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Ready: the database answers too, and the process is not stopping (a
/// load balancer that polls this then sends elsewhere during the grace).
async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if *state.stopping.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping");
    }
    match state.services.db().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(error = ?error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
