//! The developer console at `/console`: a page and one script from
//! `clients/console`, compiled into the binary and sent under the same
//! self-only content security policy as GraphiQL. It talks to `/graphql`
//! like any client; there is nothing behind it but the API.

use axum::response::Response;

use super::graphiql::{html_page, static_file};

const PAGE: &[u8] = include_bytes!("../../../clients/console/index.html");
const SCRIPT: &[u8] = include_bytes!("../../../clients/console/console.js");

/// `GET /console`.
pub(super) async fn page() -> Response {
    html_page(PAGE)
}

/// `GET /console/console.js`.
pub(super) async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", SCRIPT)
}
