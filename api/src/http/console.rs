//! The developer console at `/console`: a page and its ES modules from
//! `clients/console`, compiled into the binary and sent under the same
//! self-only content security policy as GraphiQL. It talks to `/graphql`
//! like any client; there is nothing behind it but the API.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::graphiql::{html_page, static_file};

const PAGE: &[u8] = include_bytes!("../../../clients/console/index.html");

/// The console's scripts, by the name they are served under
/// (`/console/{name}`); the page loads `console.js`, which imports the rest.
const SCRIPTS: &[(&str, &[u8])] = &[
    (
        "console.js",
        include_bytes!("../../../clients/console/console.js"),
    ),
    ("lib.js", include_bytes!("../../../clients/console/lib.js")),
    (
        "keys.js",
        include_bytes!("../../../clients/console/keys.js"),
    ),
    (
        "members.js",
        include_bytes!("../../../clients/console/members.js"),
    ),
    (
        "login.js",
        include_bytes!("../../../clients/console/login.js"),
    ),
    (
        "agents.js",
        include_bytes!("../../../clients/console/agents.js"),
    ),
    (
        "routines.js",
        include_bytes!("../../../clients/console/routines.js"),
    ),
    (
        "webhooks.js",
        include_bytes!("../../../clients/console/webhooks.js"),
    ),
    (
        "events.js",
        include_bytes!("../../../clients/console/events.js"),
    ),
    (
        "threads.js",
        include_bytes!("../../../clients/console/threads.js"),
    ),
];

/// `GET /console`.
pub(super) async fn page() -> Response {
    html_page(PAGE)
}

/// `GET /console/{name}`: one of the console's scripts.
pub(super) async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(script, _)| *script == name) {
        Some((_, body)) => static_file("text/javascript; charset=utf-8", body),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
