//! A fake outside OAuth provider on loopback that speaks the real
//! authorization-code protocol (RFC 6749 §4.1 with PKCE, RFC 7636), for one
//! registered client:
//!
//! - `GET /authorize`: checks `client_id`, `response_type=code`, the
//!   registered `redirect_uri` exactly (else a 400 page, as real providers
//!   refuse to redirect to an unknown URI) and `code_challenge_method=S256`;
//!   then "consents" as the account the test chose and redirects with
//!   `code` and `state`, or with `error=access_denied`.
//! - `POST /token`: form-encoded; client authentication by HTTP Basic or in
//!   the body; single-use codes; `redirect_uri` equal to the authorization's;
//!   `code_verifier` checked against the challenge; a JSON token answer, or
//!   a JSON error as §5.2 names it.
//! - `GET /userinfo` (OpenID Connect claims) and GitHub's `GET /user` and
//!   `GET /user/emails`, with the access token as a bearer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A person at the provider.
#[derive(Debug, Clone)]
pub struct Account {
    /// The provider's id of the person (`sub`; GitHub's numeric `id`).
    pub subject: u64,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
}

impl Account {
    pub fn new(subject: u64, email: &str) -> Self {
        Self {
            subject,
            email: email.to_owned(),
            email_verified: true,
            name: format!("Person {subject}"),
        }
    }
}

/// How the client authenticated at `/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthSeen {
    Basic,
    Post,
}

struct Grant {
    redirect_uri: String,
    code_challenge: String,
    account: Account,
    used: bool,
}

#[derive(Default)]
struct Inner {
    /// Who consents at the next `/authorize`; `None` denies.
    consenting: Option<Account>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Account>,
    token_requests: Vec<ClientAuthSeen>,
    /// `/authorize` requests refused before any redirect.
    refused_authorizations: usize,
}

#[derive(Clone)]
struct Provider {
    client_id: String,
    client_secret: String,
    redirect_uri: String,
    inner: Arc<Mutex<Inner>>,
}

/// The running fake provider.
pub struct FakeProvider {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub client_id: String,
    pub client_secret: String,
    provider: Provider,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    /// Starts a provider with one client whose only redirect URI is `redirect_uri`.
    pub async fn start(redirect_uri: &str) -> Self {
        let provider = Provider {
            client_id: format!("client-{}", uuid::Uuid::new_v4().simple()),
            client_secret: format!("secret-{}", uuid::Uuid::new_v4().simple()),
            redirect_uri: redirect_uri.to_owned(),
            inner: Arc::new(Mutex::new(Inner::default())),
        };
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(provider.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("a local address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base,
            client_id: provider.client_id.clone(),
            client_secret: provider.client_secret.clone(),
            provider,
            _server: server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The person who consents at the next authorizations.
    pub fn consent_as(&self, account: Account) {
        self.lock().consenting = Some(account);
    }

    /// The next authorizations are denied (`error=access_denied`).
    pub fn deny(&self) {
        self.lock().consenting = None;
    }

    /// How the client authenticated at each token request so far.
    pub fn token_requests(&self) -> Vec<ClientAuthSeen> {
        self.lock().token_requests.clone()
    }

    /// Authorization requests refused with a 400 page.
    pub fn refused_authorizations(&self) -> usize {
        self.lock().refused_authorizations
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.provider.inner.lock().expect("the provider's state")
    }
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).expect("a registered redirect URI");
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    url.to_string()
}

fn found(location: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn authorize(
    State(provider): State<Provider>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    // Without a known client and its exact redirect URI, nothing is redirected.
    if param("client_id") != provider.client_id || param("redirect_uri") != provider.redirect_uri {
        provider
            .inner
            .lock()
            .expect("the provider's state")
            .refused_authorizations += 1;
        return (
            StatusCode::BAD_REQUEST,
            "unknown client or redirect_uri not registered",
        )
            .into_response();
    }
    let state = param("state");
    let error = |error: &str| {
        found(with_query(
            &provider.redirect_uri,
            &[("error", error), ("state", state)],
        ))
    };
    if param("response_type") != "code" {
        return error("unsupported_response_type");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return error("invalid_request");
    }
    let mut inner = provider.inner.lock().expect("the provider's state");
    let Some(account) = inner.consenting.clone() else {
        return error("access_denied");
    };
    let code = random();
    inner.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: param("redirect_uri").to_owned(),
            code_challenge: param("code_challenge").to_owned(),
            account,
            used: false,
        },
    );
    found(with_query(
        &provider.redirect_uri,
        &[("code", &code), ("state", state)],
    ))
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The client's id and secret, from HTTP Basic or the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String, ClientAuthSeen)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        // RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
        let unescape = |value: &str| {
            url::form_urlencoded::parse(format!("v={value}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?, ClientAuthSeen::Basic));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
        ClientAuthSeen::Post,
    ))
}

async fn token(State(provider): State<Provider>, headers: HeaderMap, body: String) -> Response {
    let form_encoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", "not a form");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let Some((client_id, client_secret, seen)) = client_credentials(&headers, &form) else {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "no client credentials",
        );
    };
    if client_id != provider.client_id || client_secret != provider.client_secret {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client", "wrong client");
    }
    let mut inner = provider.inner.lock().expect("the provider's state");
    inner.token_requests.push(seen);
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = inner.codes.get_mut(&code) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
    };
    if grant.used {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code already used",
        );
    }
    grant.used = true;
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri differs",
        );
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if verifier.is_empty() || challenge != grant.code_challenge {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "code_verifier does not match the challenge",
        );
    }
    let account = grant.account.clone();
    let access_token = random();
    inner.tokens.insert(access_token.clone(), account);
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 3600 })),
    )
        .into_response()
}

fn bearer_account(provider: &Provider, headers: &HeaderMap) -> Option<Account> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    provider
        .inner
        .lock()
        .expect("the provider's state")
        .tokens
        .get(token)
        .cloned()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token" })),
    )
        .into_response()
}

async fn userinfo(State(provider): State<Provider>, headers: HeaderMap) -> Response {
    let Some(account) = bearer_account(&provider, &headers) else {
        return unauthorized();
    };
    Json(json!({
        "sub": account.subject.to_string(),
        "email": account.email,
        "email_verified": account.email_verified,
        "name": account.name,
    }))
    .into_response()
}

/// GitHub's `/user`: a numeric id and the public email (null here).
async fn github_user(State(provider): State<Provider>, headers: HeaderMap) -> Response {
    let Some(account) = bearer_account(&provider, &headers) else {
        return unauthorized();
    };
    let value: Value = json!({
        "id": account.subject,
        "login": format!("person{}", account.subject),
        "name": account.name,
        "email": null,
    });
    Json(value).into_response()
}

/// GitHub's `/user/emails`.
async fn github_emails(State(provider): State<Provider>, headers: HeaderMap) -> Response {
    let Some(account) = bearer_account(&provider, &headers) else {
        return unauthorized();
    };
    Json(json!([
        { "email": format!("noreply-{}@users.example.com", account.subject), "primary": false, "verified": true },
        { "email": account.email, "primary": true, "verified": account.email_verified },
    ]))
    .into_response()
}
