//! The HTTP surface: `/graphql`, the OAuth device flow (`/oauth/...`, the
//! `/device` page), health and readiness, and the layers every
//! request passes (request ids, tracing, timeouts, body limit, CORS).

mod client_addr;
mod device_page;
mod graphql_handler;
pub(crate) mod oauth;
mod oauth_login;
pub(crate) mod serve;
mod shared_delivery;
pub(crate) mod ws;

use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::Services;
use crate::config::Settings;
use crate::graphql::OrbitSchema;

pub use client_addr::{IpBlock, TrustedProxies};
pub use graphql_handler::{MAX_BATCH_SIZE, MAX_BODY_BYTES};
pub use ws::MAX_OPERATIONS;

#[derive(Clone)]
pub(crate) struct HttpState {
    pub services: Services,
    pub schema: OrbitSchema,
    pub graphiql: bool,
    /// `ORBIT_PUBLIC_URL`, for links the server hands out.
    pub public_url: Option<String>,
    pub ws: ws::WsConfig,
    /// Whose `X-Forwarded-For` names the client (`ORBIT_TRUSTED_PROXIES`).
    pub trusted_proxies: std::sync::Arc<TrustedProxies>,
}

pub(crate) fn router(
    services: Services,
    schema: OrbitSchema,
    settings: &Settings,
    ws: ws::WsConfig,
) -> Router {
    let state = HttpState {
        services,
        schema,
        graphiql: settings.graphiql,
        public_url: settings.public_url.clone(),
        ws,
        trusted_proxies: std::sync::Arc::new(TrustedProxies::new(settings.trusted_proxies.clone())),
    };
    let request_id = HeaderName::from_static("x-request-id");
    // Credentials travel in headers, never cookies, so any origin may call.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-api-key"),
        ]);
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
        .route("/device", get(device_page::page))
        .route("/oauth/authorize/{provider}", get(oauth_login::authorize))
        .route(crate::oauth_login::CALLBACK_PATH, get(oauth_login::callback))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
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

/// `GET /graphql`: a WebSocket upgrade for subscriptions, else GraphiQL.
async fn graphql_get(State(state): State<HttpState>, request: Request) -> Response {
    let wants_socket = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants_socket {
        return graphql_handler::graphiql(State(state)).await;
    }
    let (parts, body) = request.into_parts();
    let client_addr = client_addr::client_addr(&parts, &state);
    let request = Request::from_parts(parts, body);
    match WebSocketUpgrade::from_request(request, &state).await {
        Ok(upgrade) => ws::upgrade(state, upgrade, Some(client_addr)),
        Err(rejection) => rejection.into_response(),
    }
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the database answers too.
async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.services.db().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(error = ?error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
