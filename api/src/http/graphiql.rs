//! GraphiQL at a bare `GET /graphql`, from files compiled into the binary
//! (`api/assets/graphiql`, made from pinned packages by
//! `clients/graphiql/sync.sh`): it works offline, behind a firewall, and
//! under the content security policy its page is sent with, which allows
//! scripts from this server only.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;

/// Scripts and styles from this server only (GraphiQL sets inline style
/// attributes and embeds its fonts as data: URLs); requests to this
/// server, WebSockets included; no framing, no forms, no base URL.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const PAGE: &[u8] = include_bytes!("../../assets/graphiql/index.html");

/// The files the page loads, by name, with their types.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphql-ws.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphql-ws.min.js"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/init.js"),
    ),
];

/// The GraphiQL page (404 when `ORBIT_GRAPHIQL` is off).
pub(super) async fn page(State(state): State<HttpState>) -> Response {
    if !state.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    html_page(PAGE)
}

/// A page of this server's own, sent under [`PAGE_POLICY`] and never
/// cached (it changes with the binary).
pub(super) fn html_page(body: &'static [u8]) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /graphiql/{name}`: one of the page's files.
pub(super) async fn asset(State(state): State<HttpState>, Path(name): Path<String>) -> Response {
    let found = ASSETS.iter().find(|(asset, _, _)| *asset == name);
    let (Some((_, content_type, body)), true) = (found, state.graphiql) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    static_file(content_type, body)
}

/// A script or style of this server's own.
pub(super) fn static_file(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // The files change only with the binary: an hour in caches.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}
