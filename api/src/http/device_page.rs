//! `GET /device`: the verification page of the device flow. Plain HTML with
//! a little script, no build step: the person logs in (`logIn`), enters or
//! checks the code (`?user_code=`), and approves or denies (`approveDevice`).
//! `?client_id=pk_...` names an app; without it the page signs in to the console.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("device.html");

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // An approval page must never be framed (clickjacking).
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "frame-ancestors 'none'; default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
}
