//! The browser's side of login with an app's outside OAuth providers:
//! `GET /oauth/authorize/{provider}` starts one from a plain link (the
//! GraphQL `startOAuthLogin` does the same for scripts), and
//! `GET /oauth/callback` is where providers send the browser back (the
//! `redirect_uri` to register at them). See `crate::application::oauth_login`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use orbit_domain::ErrorCode;

use super::HttpState;
use super::oauth::{OAuthError, client_app, no_store, refuse_nul};
use crate::application::oauth_login::{
    self, CallbackAnswer, CallbackParams, StartRequest, callback_url,
};
use crate::limits::{self, ClientAddr};

/// A `302` to `location`. The page it leaves carries a code or state in
/// its URL, so it is neither cached nor named in a `Referer`.
fn redirect(location: &str) -> Response {
    let mut response = (StatusCode::FOUND, no_store()).into_response();
    if let Ok(value) = header::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A refusal of ours: RATE_LIMITED answers 429, other failures of the
/// request are `invalid_request` with the reason, internal ones `server_error`.
fn refusal(error: orbit_domain::DomainError) -> OAuthError {
    match error.code {
        ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::Internal => error.into(),
        _ => OAuthError::new("invalid_request", error.message),
    }
}

/// `GET /oauth/authorize/{provider}?client_id=pk_...&redirect_url=...&state=...`:
/// `302` to the provider's authorization page. Until the login is stored
/// the redirect URL is not trusted, so refusals are a `400`.
pub(crate) async fn authorize(
    State(state): State<HttpState>,
    client_addr: ClientAddr,
    Path(provider): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let services = &state.services;
    refuse_nul(
        params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .chain([("provider", provider.as_str())]),
    )?;
    let required = |name: &str| {
        params
            .get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is required")))
    };
    let client_id = required("client_id")?;
    let redirect_url = required("redirect_url")?;
    let scope = client_app(services, client_id).await?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let callback_url = callback_url(services, host)
        .ok_or_else(|| OAuthError::new("invalid_request", "the request has no Host"))?;
    let url = oauth_login::start(
        services,
        scope,
        StartRequest {
            provider: &provider,
            redirect_url,
            client_state: params.get("state").map(String::as_str),
            link_user: None,
            callback_url,
            client_address: Some(limits::address(client_addr)),
        },
    )
    .await
    .map_err(refusal)?;
    Ok(redirect(url.as_str()))
}

/// `GET /oauth/callback?code=...&state=...` (or `?error=...&state=...`)
/// from the provider: `302` to the app's page with `code` (or `linked`, or
/// `error` and `error_description`), or a `400` when the state names no
/// login of Orbit's.
pub(crate) async fn callback(
    State(state): State<HttpState>,
    client_addr: ClientAddr,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    refuse_nul(
        params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )?;
    let params = CallbackParams {
        code: params.remove("code"),
        state: params.remove("state"),
        error: params.remove("error"),
        error_description: params.remove("error_description"),
    };
    let answer = oauth_login::callback(&state.services, params, Some(limits::address(client_addr)))
        .await
        .map_err(refusal)?;
    match answer {
        CallbackAnswer::Redirect(url) => Ok(redirect(url.as_str())),
        CallbackAnswer::Invalid(why) => Err(OAuthError::new("invalid_request", why)),
    }
}
