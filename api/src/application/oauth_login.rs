//! Login with an app's outside OAuth providers (authorization code with PKCE
//! S256), shared by the GraphQL mutations and the `/oauth/authorize` and
//! `/oauth/callback` endpoints.
//!
//! 1. [`start`]: the app's page asks for a provider's authorization URL with
//!    its `redirectUrl` (on an allowed origin). Orbit stores the login: the
//!    state's hash, the PKCE verifier sealed, the redirect URL, the caller's
//!    own state, and the signed-in user when one is linking.
//! 2. The browser goes to the provider and back to Orbit's callback, whose
//!    URL is the `redirect_uri` of both the authorization and the token
//!    request. [`callback`] spends the state once, exchanges the code (with
//!    the verifier) through the outbound client, reads the userinfo, and
//!    links, signs in or signs up the person by the provider's issuer and
//!    subject, never by email alone.
//! 3. The browser goes back to the app's `redirectUrl` with a one-time
//!    `code` (or `error`), which the app exchanges with `completeOAuthLogin`:
//!    tokens never travel in URLs.

use chrono::{DateTime, Utc};
use orbit_auth::{
    ClaimNames, ClientAuth, OAuthClientConfig, OAuthClientError, ProviderIdentity, exchange_code,
    generate_token, hash_token, primary_verified_email, read_identity, start_authorization,
};
use orbit_domain::entities::{identity_provider, oauth_login};
use orbit_domain::identity_providers::TokenAuth;
use orbit_domain::ids::{AppId, AppScope, IdentityProviderId, UserId};
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult, ErrorCode, SealContext};
use orbit_persistence::app_settings::LoginMethod;
use orbit_persistence::identity_providers;
use orbit_persistence::oauth_logins::{
    self, IssuedCode, NewLogin, ProvenIdentity, Refusal, Resolution,
};
use url::Url;
use uuid::Uuid;

use crate::services::{OAUTH_CODE_TTL, OAUTH_LOGIN_TTL};
use crate::{Services, limits};

/// The path of Orbit's callback, the `redirect_uri` registered at providers.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// The app's own `state` is given back as it came, up to this length.
pub const MAX_CLIENT_STATE_CHARS: usize = 512;
const SECRET_PURPOSE: &str = "identity_provider.client_secret";
const VERIFIER_PURPOSE: &str = "oauth_login.pkce_verifier";

/// The `Host` an HTTP request came to, for URLs the server hands out when
/// `ORBIT_PUBLIC_URL` is unset.
#[derive(Debug, Clone)]
pub struct RequestHost(pub String);

/// `<ORBIT_PUBLIC_URL or http://Host>/oauth/callback`; `None` when neither is known.
pub fn callback_url(services: &Services, host: Option<&str>) -> Option<String> {
    let base = match (services.public_url(), host) {
        (Some(public), _) => public.to_owned(),
        (None, Some(host)) => format!("http://{host}"),
        (None, None) => return None,
    };
    Some(format!("{base}{CALLBACK_PATH}"))
}

/// Where a provider's client secret is sealed.
pub fn secret_context(scope: AppScope, id: IdentityProviderId) -> SealContext {
    SealContext::new(scope.app_id(), SECRET_PURPOSE, id)
}

fn verifier_context(scope: AppScope, login_id: Uuid) -> SealContext {
    SealContext::new(scope.app_id(), VERIFIER_PURPOSE, login_id.simple())
}

fn client_config(
    services: &Services,
    scope: AppScope,
    provider: &identity_provider::Model,
) -> DomainResult<OAuthClientConfig> {
    let id = IdentityProviderId(provider.id);
    let client_secret = services
        .sealer()
        .open(&provider.client_secret_sealed, &secret_context(scope, id))?;
    let client_auth = match TokenAuth::parse(&provider.client_auth) {
        Some(TokenAuth::Post) => ClientAuth::Post,
        _ => ClientAuth::Basic,
    };
    Ok(OAuthClientConfig {
        client_id: provider.client_id.clone(),
        client_secret,
        authorization_url: provider.authorization_url.clone(),
        token_url: provider.token_url.clone(),
        client_auth,
        scopes: identity_providers::scope_list(provider),
    })
}

/// What a login starts from.
pub struct StartRequest<'a> {
    /// The provider's slug.
    pub provider: &'a str,
    pub redirect_url: &'a str,
    pub client_state: Option<&'a str>,
    /// A signed-in user linking the identity to themself.
    pub link_user: Option<UserId>,
    pub callback_url: String,
    /// The limits subject of the caller's address.
    pub client_address: Option<String>,
}

/// Stores a new login of the app and returns the provider's authorization URL.
pub async fn start(
    services: &Services,
    scope: AppScope,
    request: StartRequest<'_>,
) -> DomainResult<Url> {
    limits::OAUTH_LOGINS_PER_ADDRESS
        .hit_opt(services, request.client_address.as_deref())
        .await?;
    let provider = identity_providers::find_by_slug(services.db(), scope, request.provider)
        .await?
        .ok_or_else(|| DomainError::not_found("identity provider").with_field("provider"))?;
    let settings = crate::application::login_methods::require_login_method(
        services,
        scope,
        LoginMethod::OAuth,
    )
    .await?;
    let redirect = validation::redirect_url(
        "redirectUrl",
        request.redirect_url,
        &settings.allowed_redirect_origins,
    )?;
    let client_state = request
        .client_state
        .map(|state| {
            let ok = !state.is_empty()
                && state.len() <= MAX_CLIENT_STATE_CHARS
                && state.bytes().all(|b| b.is_ascii_graphic());
            if ok {
                Ok(state.to_owned())
            } else {
                Err(DomainError::bad_input(
                    "state",
                    format!("must be 1 to {MAX_CLIENT_STATE_CHARS} printable ASCII characters"),
                ))
            }
        })
        .transpose()?;
    let config = client_config(services, scope, &provider)?;
    let state = generate_token("ost_");
    let authorization = start_authorization(&config, &request.callback_url, &state)
        .map_err(DomainError::internal)?;
    let login_id = Uuid::now_v7();
    let now = services.clock().now();
    oauth_logins::start(
        services.db(),
        scope,
        NewLogin {
            id: login_id,
            provider_id: IdentityProviderId(provider.id),
            state_hash: hash_token(&state),
            pkce_verifier_sealed: services.sealer().seal(
                &authorization.pkce_verifier,
                &verifier_context(scope, login_id),
            ),
            callback_url: request.callback_url,
            redirect_url: redirect.to_string(),
            client_state,
            link_user_id: request.link_user,
            expires_at: now + OAUTH_LOGIN_TTL,
        },
        now,
    )
    .await?;
    Ok(authorization.url)
}

/// The query of a callback from the provider.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the browser goes after the callback.
#[derive(Debug)]
pub enum CallbackAnswer {
    /// To the app's page, with `code` (or `linked`) or `error`.
    Redirect(Url),
    /// No login of Orbit's: there is nowhere to send the browser back to.
    Invalid(&'static str),
}

/// An error given back to the app's page: `error` (an OAuth-style code)
/// and `error_description`.
struct PageError {
    error: &'static str,
    description: String,
}

impl PageError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// Errors a provider may send to the callback (RFC 6749 §4.1.2.1), passed on
/// to the app's page; any other becomes `server_error`.
const AUTHORIZATION_ERRORS: [&str; 7] = [
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
];

/// Errors a token endpoint may answer (RFC 6749 §5.2), passed on likewise.
const TOKEN_ERRORS: [&str; 6] = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

fn standard(error: &str, known: &[&'static str]) -> &'static str {
    known
        .iter()
        .find(|name| **name == error)
        .copied()
        .unwrap_or("server_error")
}

/// Finishes a login the provider sent back: see the module's steps.
pub async fn callback(
    services: &Services,
    params: CallbackParams,
    client_address: Option<String>,
) -> DomainResult<CallbackAnswer> {
    let failed = limits::FAILED_OAUTH_COMPLETIONS_PER_ADDRESS;
    failed
        .check_opt(services, client_address.as_deref())
        .await?;
    let login = match &params.state {
        Some(state) => oauth_logins::find_by_state(services.db(), &hash_token(state)).await?,
        None => None,
    };
    let Some(login) = login else {
        failed.hit_opt(services, client_address.as_deref()).await?;
        return Ok(CallbackAnswer::Invalid(
            "the state is missing or unknown: start the login again from the app",
        ));
    };
    let scope = AppScope::new(AppId(login.app_id));
    let now = services.clock().now();
    if !oauth_logins::claim_state(services.db(), scope, login.id, now).await? {
        failed.hit_opt(services, client_address.as_deref()).await?;
        let why = if login.callback_at.is_some() {
            "this login was already finished: start again".to_owned()
        } else {
            format!(
                "the login took longer than {} minutes: start again",
                OAUTH_LOGIN_TTL.num_minutes()
            )
        };
        return redirect_error(&login, PageError::new("invalid_request", why));
    }
    match settle(services, scope, &login, params, now).await {
        Ok(url) => Ok(CallbackAnswer::Redirect(url)),
        Err(Settled::Page(error)) => redirect_error(&login, error),
        // The page is known: it hears of the failure, the log has the cause.
        Err(Settled::Internal(error)) => {
            tracing::error!(app = %scope.app_id(), error = ?error, "outside-provider login failed");
            redirect_error(&login, PageError::new("server_error", "internal error"))
        }
    }
}

/// Why a callback with a good state still failed.
enum Settled {
    Page(PageError),
    Internal(DomainError),
}

impl From<DomainError> for Settled {
    fn from(error: DomainError) -> Self {
        Settled::Internal(error)
    }
}

impl From<PageError> for Settled {
    fn from(error: PageError) -> Self {
        Settled::Page(error)
    }
}

async fn settle(
    services: &Services,
    scope: AppScope,
    login: &oauth_login::Model,
    params: CallbackParams,
    now: DateTime<Utc>,
) -> Result<Url, Settled> {
    if let Some(error) = &params.error {
        let description = params
            .error_description
            .as_deref()
            .unwrap_or("the provider did not sign the person in");
        return Err(PageError::new(
            standard(error, &AUTHORIZATION_ERRORS),
            format!("the provider answered {error}: {description}"),
        )
        .into());
    }
    let Some(code) = params.code.filter(|code| !code.is_empty()) else {
        return Err(PageError::new("invalid_request", "the provider sent no code").into());
    };
    // The switch stops logins already at the provider too, as it stops
    // codes already mailed.
    if !orbit_persistence::app_settings::get(services.db(), scope)
        .await?
        .allows(LoginMethod::OAuth)
    {
        return Err(PageError::new(
            "access_denied",
            "this app does not let users sign in with outside providers (oauthLogin is off)",
        )
        .into());
    }
    let provider =
        identity_providers::find(services.db(), scope, IdentityProviderId(login.provider_id))
            .await?
            .ok_or_else(|| PageError::new("server_error", "the provider was removed"))?;
    let config = client_config(services, scope, &provider)?;
    for url in [
        Some(&provider.token_url),
        Some(&provider.userinfo_url),
        provider.emails_url.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        let allowed = Url::parse(url)
            .ok()
            .is_some_and(|url| services.outbound().check(&url).is_ok());
        if !allowed {
            tracing::warn!(app = %scope.app_id(), %url, "identity provider URL refused by the outbound rule");
            return Err(PageError::new(
                "server_error",
                "the provider's endpoints may not be called",
            )
            .into());
        }
    }
    let verifier = services.sealer().open(
        &login.pkce_verifier_sealed,
        &verifier_context(scope, login.id),
    )?;
    let access_token = exchange_code(
        services.outbound().client(),
        &config,
        &login.callback_url,
        &code,
        &verifier,
    )
    .await
    .map_err(|error| exchange_failed(scope, &provider, error))?;
    let proven = identify(services, &provider, &access_token)
        .await
        .map_err(|why| {
            tracing::warn!(app = %scope.app_id(), provider = %provider.slug, %why, "identity provider answer unusable");
            PageError::new("temporarily_unavailable", "the provider's answer could not be read")
        })?;
    let sign_up_allowed =
        provider.allow_sign_up && (scope != services.console() || services.console_signup_open());
    let code = generate_token("olc_");
    let issued = IssuedCode {
        code_hash: hash_token(&code),
        expires_at: now + OAUTH_CODE_TTL,
    };
    let finished = oauth_logins::finish(
        services.db(),
        scope,
        login,
        proven,
        sign_up_allowed,
        issued,
        now,
    )
    .await;
    let resolution = match finished {
        Ok(Ok(resolution)) => resolution,
        Ok(Err(refusal)) => return Err(refused(refusal).into()),
        Err(error) if error.code == ErrorCode::Conflict => {
            return Err(PageError::new("temporarily_unavailable", error.message).into());
        }
        Err(error) => return Err(error.into()),
    };
    let mut url = app_page(login)?;
    {
        let mut query = url.query_pairs_mut();
        match resolution {
            Resolution::SignedIn(_) | Resolution::SignedUp(_) => {
                query.append_pair("code", &code);
            }
            Resolution::Linked(_) => {
                query.append_pair("linked", &provider.slug);
            }
        }
        if let Some(state) = &login.client_state {
            query.append_pair("state", state);
        }
    }
    Ok(url)
}

fn exchange_failed(
    scope: AppScope,
    provider: &identity_provider::Model,
    error: OAuthClientError,
) -> PageError {
    tracing::warn!(app = %scope.app_id(), provider = %provider.slug, error = %error, "code exchange failed");
    match error {
        OAuthClientError::Refused { error, description } => PageError::new(
            standard(&error, &TOKEN_ERRORS),
            format!(
                "the provider refused the code: {error}{}",
                description.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        ),
        OAuthClientError::Unavailable(_) => PageError::new(
            "temporarily_unavailable",
            "the provider could not be reached",
        ),
        OAuthClientError::Configuration(_) => {
            PageError::new("server_error", "the provider is misconfigured")
        }
    }
}

fn refused(refusal: Refusal) -> PageError {
    match refusal {
        Refusal::AccountExists => PageError::new(
            "account_exists",
            "an account with this email exists: sign in to it, then link this provider",
        ),
        Refusal::SignUpClosed => PageError::new(
            "signup_disabled",
            "no account is linked to this identity, and new accounts cannot sign up with this provider",
        ),
        Refusal::EmailUnverified => PageError::new(
            "email_unverified",
            "the provider gave no verified email to make an account with",
        ),
        Refusal::IdentityTaken => PageError::new(
            "identity_taken",
            "this identity is linked to another account",
        ),
        Refusal::AccountDisabled => PageError::new(
            "account_disabled",
            "this account is disabled: ask the app's developers",
        ),
    }
}

/// Who the provider says the person is: the userinfo answer, and for
/// GitHub-style providers the verified primary address from their email list.
async fn identify(
    services: &Services,
    provider: &identity_provider::Model,
    access_token: &str,
) -> Result<ProvenIdentity, String> {
    let userinfo = get_json(services, &provider.userinfo_url, access_token).await?;
    let names = ClaimNames {
        subject: provider.subject_claim.clone(),
        email: provider.email_claim.clone(),
        email_verified: provider.email_verified_claim.clone(),
        name: provider.name_claim.clone(),
    };
    let mut identity = read_identity(&userinfo, &names)?;
    if let Some(emails_url) = &provider.emails_url {
        let emails = get_json(services, emails_url, access_token).await?;
        identity = match primary_verified_email(&emails) {
            Some(email) => ProviderIdentity {
                email: Some(email),
                email_verified: true,
                ..identity
            },
            None => ProviderIdentity {
                email_verified: false,
                ..identity
            },
        };
    }
    let checked_email = identity
        .email
        .as_deref()
        .and_then(|email| validation::email("email", email).ok());
    let verified_email = checked_email.clone().filter(|_| identity.email_verified);
    let display_name = identity
        .name
        .as_deref()
        .and_then(|name| {
            validation::text_line("displayName", name, validation::MAX_NAME_CHARS).ok()
        })
        .or_else(|| {
            checked_email
                .as_ref()
                .and_then(|email| email.normalized.split('@').next().map(str::to_owned))
        })
        .unwrap_or_else(|| "New user".to_owned());
    Ok(ProvenIdentity {
        issuer: provider.issuer.clone(),
        subject: identity.subject,
        provider_slug: provider.slug.clone(),
        verified_email,
        email: identity.email,
        display_name,
    })
}

/// A JSON GET with the provider's access token, through the outbound client.
async fn get_json(
    services: &Services,
    url: &str,
    access_token: &str,
) -> Result<serde_json::Value, String> {
    let response = services
        .outbound()
        .client()
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    response
        .json()
        .await
        .map_err(|error| format!("{url}: not JSON: {error}"))
}

/// The app's page of a login, as stored (it was checked when the login started).
fn app_page(login: &oauth_login::Model) -> DomainResult<Url> {
    Url::parse(&login.redirect_url).map_err(DomainError::internal)
}

fn redirect_error(login: &oauth_login::Model, error: PageError) -> DomainResult<CallbackAnswer> {
    let mut url = app_page(login)?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", error.error);
        query.append_pair("error_description", &error.description);
        if let Some(state) = &login.client_state {
            query.append_pair("state", state);
        }
    }
    Ok(CallbackAnswer::Redirect(url))
}

/// Exchanges the one-time code of a finished login for the user it signs
/// in; `None` when the code is unknown, used, expired or another app's.
pub async fn claim_code(
    services: &Services,
    scope: AppScope,
    code: &str,
) -> DomainResult<Option<UserId>> {
    oauth_logins::claim_code(
        services.db(),
        scope,
        &hash_token(code),
        services.clock().now(),
    )
    .await
}

fn invalid_code() -> DomainError {
    DomainError::unauthenticated("the code is invalid, used or expired: sign in again")
        .with_field("code")
}

/// Exchanges the one-time code of a finished provider login for tokens,
/// with a key of the same app. Failures are counted per address.
pub async fn complete(
    services: &Services,
    viewer: &crate::viewer::Viewer,
    client_address: Option<&str>,
    code: &str,
) -> DomainResult<super::sessions::SignedIn> {
    let scope = super::sessions::login_app(services, viewer, false)?;
    let failed = limits::FAILED_OAUTH_COMPLETIONS_PER_ADDRESS;
    failed.check_opt(services, client_address).await?;
    let Some(user_id) = claim_code(services, scope, code).await? else {
        failed.hit_opt(services, client_address).await?;
        return Err(invalid_code());
    };
    let user = orbit_persistence::users::find(services.db(), scope, user_id)
        .await?
        .ok_or_else(invalid_code)?;
    super::sessions::start_session(services, scope, user).await
}
