//! The OAuth 2.0 device authorization grant (RFC 8628) for CLIs and other
//! devices without a browser: `POST /oauth/device/authorize` starts it,
//! `POST /oauth/token` polls it (and exchanges refresh tokens). Both take
//! form-encoded bodies and answer errors as RFC 6749 §5.2 names them.
//!
//! The client is `orbit-cli` (the console app: developers) or an app's
//! publishable key (its users). A person approves with `approveDevice`,
//! usually from the `/device` page.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use orbit_auth::{
    ApiKeyKind, display_user_code, generate_device_code, generate_user_code, hash_token,
    parse_api_key,
};
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, ErrorCode};
use orbit_persistence::device_flow::{self, NewDeviceAuthorization};
use serde_json::json;

use super::HttpState;
use crate::Services;
use crate::application::device::{self, CLI_CLIENT_ID, DEVICE_CODE_GRANT, NotYet};
use crate::application::sessions::{SignedIn, refresh};
use crate::limits::{self, ClientAddr};
use crate::services::{DEVICE_CODE_TTL, DEVICE_POLL_INTERVAL_SECS};
use crate::viewer::{self, Viewer};

const MAX_SCOPE_CHARS: usize = 256;
/// User codes drawn again when one is taken, before giving up.
const USER_CODE_TRIES: usize = 5;

/// An OAuth error answer: `400` (or `500`) with `{"error", "error_description"}`.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Seconds for a `Retry-After` header (429 and 503 answers).
    retry_after: Option<i64>,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    fn invalid_grant() -> Self {
        Self::new(
            "invalid_grant",
            "the code or token is invalid, used, or not this client's",
        )
    }

    /// A failure of ours: logged, never described to the client.
    fn server(error: &DomainError) -> Self {
        tracing::error!(error = ?error, "oauth endpoint failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "internal error".to_owned(),
            retry_after: None,
        }
    }
}

impl From<DomainError> for OAuthError {
    fn from(error: DomainError) -> Self {
        if error.code == ErrorCode::RateLimited {
            // Too many requests: 429 with RFC 8628's name for "slower".
            return Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                error: "slow_down",
                description: error.message,
                retry_after: error.retry_after,
            };
        }
        if error.code == ErrorCode::Unavailable {
            tracing::warn!(error = ?error, "oauth endpoint: a dependency is unavailable");
            return Self {
                status: StatusCode::SERVICE_UNAVAILABLE,
                error: "temporarily_unavailable",
                description: error.message,
                retry_after: error.retry_after,
            };
        }
        Self::server(&error)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, no_store(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// Token answers must not be cached (RFC 6749 §5.1).
pub(crate) fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// The parameters of a form-encoded body; a parameter sent twice is an
/// `invalid_request` (RFC 6749 §3.1).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, OAuthError> {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        refuse_nul([(name.as_ref(), value.as_ref())])?;
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            )));
        }
    }
    Ok(params)
}

/// The client: `client_id` in the body, or HTTP Basic with the client id
/// and an empty password (RFC 6749 §2.3.1; oauthlib and others send public
/// clients that way). Both at once must agree; a password is refused, since
/// every client here is public and has none.
fn client_id(headers: &HeaderMap, params: &HashMap<String, String>) -> Result<String, OAuthError> {
    let from_body = params.get("client_id").filter(|v| !v.is_empty());
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return from_body
            .cloned()
            .ok_or_else(|| OAuthError::invalid_request("client_id is required"));
    };
    let malformed = || {
        OAuthError::new(
            "invalid_client",
            "the Authorization header must be Basic <client_id:>",
        )
    };
    let value = authorization.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(malformed)?;
    let (user, password) = decoded.split_once(':').ok_or_else(malformed)?;
    // Both parts are form-urlencoded before they are joined (§2.3.1).
    let decode = |part: &str| -> String {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .map(|(_, value)| value.into_owned())
            .next()
            .unwrap_or_default()
    };
    let (user, password) = (decode(user), decode(password));
    refuse_nul([("client_id", user.as_str())])?;
    if !password.is_empty() {
        return Err(OAuthError::new(
            "invalid_client",
            "clients here are public: send no client secret",
        ));
    }
    if user.is_empty() || from_body.is_some_and(|body| *body != user) {
        return Err(OAuthError::invalid_request(
            "client_id in the body and in the Authorization header differ",
        ));
    }
    Ok(user)
}

/// Refuses a parameter (name or value) holding U+0000: Postgres cannot
/// store it, and no client id, code, token or scope of ours contains one.
/// The OAuth answer for any malformed parameter is `invalid_request`.
pub(crate) fn refuse_nul<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), OAuthError> {
    for (name, value) in params {
        if name.contains('\0') || value.contains('\0') {
            let name = name.replace('\0', "\\0");
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} must not contain the NUL character (U+0000)"
            )));
        }
    }
    Ok(())
}

fn required<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// The app a client signs people in to: the console for `orbit-cli`, a
/// publishable key's app for the key. Anything else is `invalid_client`.
pub(crate) async fn client_app(
    services: &Services,
    client_id: &str,
) -> Result<AppScope, OAuthError> {
    if client_id == CLI_CLIENT_ID {
        return Ok(services.console());
    }
    let invalid = || OAuthError::new("invalid_client", "unknown client_id");
    match parse_api_key(client_id) {
        Some(parsed) if parsed.kind == ApiKeyKind::Publishable => {}
        _ => return Err(invalid()),
    }
    match viewer::resolve(services, Some(client_id)).await {
        Ok(Viewer::Publishable { app }) => Ok(app),
        Err(error) if matches!(error.code, ErrorCode::Internal | ErrorCode::Unavailable) => {
            Err(error.into())
        }
        _ => Err(invalid()),
    }
}

/// `https://orbit.example.com`: `ORBIT_PUBLIC_URL`, else the `Host` the
/// request came to (plain `http`, for development).
fn public_base(state: &HttpState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

/// `GET /.well-known/oauth-authorization-server`: the server's OAuth
/// metadata (RFC 8414), so a device-flow client needs only the server's
/// address. Orbit grants tokens by the device flow and by refresh only; it
/// has no authorization endpoint of its own (`/oauth/authorize/{provider}`
/// starts a login at an outside provider), so none is named, as RFC 8414 §2
/// allows when no grant uses one, and no PKCE methods with it.
pub(crate) async fn metadata(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let issuer = public_base(&state, &headers);
    let body = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "device_authorization_endpoint": format!("{issuer}/oauth/device/authorize"),
        "grant_types_supported": [DEVICE_CODE_GRANT, "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "code_challenge_methods_supported": [],
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(body),
    )
        .into_response()
}

/// `POST /oauth/device/authorize` (RFC 8628 §3.1–3.2).
pub(crate) async fn device_authorize(
    State(state): State<HttpState>,
    client_addr: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let services = &state.services;
    limits::DEVICE_AUTHORIZATIONS_PER_ADDRESS
        .hit(services, &limits::address(client_addr))
        .await?;
    let params = form(&headers, &body)?;
    let client_id = &client_id(&headers, &params)?;
    let scope = client_app(services, client_id).await?;
    let requested_scope = params.get("scope").filter(|s| !s.is_empty()).cloned();
    if requested_scope
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SCOPE_CHARS)
    {
        return Err(OAuthError::new("invalid_scope", "scope is too long"));
    }
    let device_code = generate_device_code();
    let now = services.clock().now();
    let mut user_code = None;
    for _ in 0..USER_CODE_TRIES {
        let candidate = generate_user_code();
        let stored = device_flow::create(
            services.db(),
            scope,
            NewDeviceAuthorization {
                client_hash: hash_token(client_id),
                device_code_hash: hash_token(&device_code),
                user_code_hash: hash_token(&candidate),
                scope: requested_scope.clone(),
                interval_secs: DEVICE_POLL_INTERVAL_SECS,
                expires_at: now + DEVICE_CODE_TTL,
            },
            now,
        )
        .await?;
        if stored {
            user_code = Some(candidate);
            break;
        }
    }
    let Some(user_code) = user_code else {
        return Err(DomainError::internal("no free user code").into());
    };
    let user_code = display_user_code(&user_code);
    // The page must know which app to sign in to: an app's client names itself.
    let mut verification_uri = format!("{}/device", public_base(&state, &headers));
    let mut separator = '?';
    if client_id != CLI_CLIENT_ID {
        verification_uri.push_str(&format!("?client_id={client_id}"));
        separator = '&';
    }
    let verification_uri_complete = format!("{verification_uri}{separator}user_code={user_code}");
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": verification_uri_complete,
        "expires_in": DEVICE_CODE_TTL.num_seconds(),
        "interval": DEVICE_POLL_INTERVAL_SECS,
    });
    Ok((no_store(), Json(body)).into_response())
}

/// `POST /oauth/token`: the device code grant (RFC 8628 §3.4) and the
/// refresh token grant (RFC 6749 §6).
pub(crate) async fn token(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let services = &state.services;
    let params = form(&headers, &body)?;
    let grant_type = required(&params, "grant_type")?;
    if grant_type != DEVICE_CODE_GRANT && grant_type != "refresh_token" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type must be {DEVICE_CODE_GRANT} or refresh_token"),
        ));
    }
    let client_id = &client_id(&headers, &params)?;
    let scope = client_app(services, client_id).await?;
    let payload = if grant_type == DEVICE_CODE_GRANT {
        let device_code = required(&params, "device_code")?;
        device_code_grant(services, scope, client_id, device_code).await?
    } else {
        let refresh_token = required(&params, "refresh_token")?;
        match refresh(services, scope, refresh_token).await {
            Ok(payload) => payload,
            Err(error) if error.code == ErrorCode::Unauthenticated => {
                return Err(OAuthError::invalid_grant());
            }
            Err(error) => return Err(error.into()),
        }
    };
    let body = json!({
        "access_token": payload.access_token,
        "token_type": "Bearer",
        "expires_in": payload.expires_in.num_seconds(),
        "refresh_token": payload.refresh_token,
    });
    Ok((no_store(), Json(body)).into_response())
}

/// One poll of a device code, answered as RFC 8628 names its outcomes.
async fn device_code_grant(
    services: &Services,
    scope: AppScope,
    client_id: &str,
    device_code: &str,
) -> Result<SignedIn, OAuthError> {
    device::poll(services, scope, client_id, device_code)
        .await
        .map_err(|not_yet| match not_yet {
            NotYet::InvalidGrant => OAuthError::invalid_grant(),
            NotYet::Expired => {
                OAuthError::new("expired_token", "the device code expired: start again")
            }
            NotYet::Pending => {
                OAuthError::new("authorization_pending", "waiting for the user to approve")
            }
            NotYet::SlowDown { interval_secs } => OAuthError::new(
                "slow_down",
                format!("polling too fast: wait {interval_secs} s between requests"),
            ),
            NotYet::Denied => OAuthError::new("access_denied", "the user denied the request"),
            NotYet::Failed(error) => error.into(),
        })
}
