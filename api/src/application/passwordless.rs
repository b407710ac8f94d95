//! Login by emailed one-time code and by magic link. A request answers the
//! same whether the email has an account or not (and mails in the
//! background, so neither does its timing tell); a verification that fails
//! answers one UNAUTHENTICATED, whatever the reason.

use chrono::Duration;
use orbit_auth::{
    LOGIN_CODE_MAX_ATTEMPTS, generate_login_code, generate_magic_link_token, hash_login_code,
    hash_token, magic_link, verify_login_code,
};
use orbit_domain::entities::user;
use orbit_domain::ids::AppScope;
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult, ErrorCode};
use orbit_persistence::app_settings::{self, AppSettings, LoginMethod};
use orbit_persistence::users::{self, NewUser};
use orbit_persistence::{apps, passwordless};

use super::login_methods::require_login_method;
use super::sessions::{SignedIn, login_app, start_session};
use crate::mail::Email;
use crate::services::{LOGIN_CODE_TTL, MAGIC_LINK_TTL};
use crate::viewer::Viewer;
use crate::{Services, limits};

/// Mails a six-digit code for `email` (if it may sign in), replacing any
/// earlier one. Answers how long a code lasts, the same for every email.
pub async fn request_login_code(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    email: &str,
) -> DomainResult<Duration> {
    let LoginRequest {
        scope,
        email,
        settings,
    } = login_request(
        services,
        viewer,
        client_address,
        email,
        LoginMethod::EmailCode,
    )
    .await?;
    if let Some(to) = recipient(services, scope, &settings, &email).await? {
        let code = generate_login_code();
        let now = services.clock().now();
        let code_hash = hash_login_code(&code_subject(scope, &email.normalized), &code);
        passwordless::replace_code(
            services.db(),
            scope,
            &email.normalized,
            code_hash,
            now,
            now + LOGIN_CODE_TTL,
        )
        .await?;
        send_login_mail(services, scope, to, "code", LOGIN_CODE_TTL, |app| {
            format!("Your code to sign in to {app} is\n\n    {code}")
        })
        .await?;
    }
    Ok(LOGIN_CODE_TTL)
}

/// Signs in with a mailed code. Every try counts; after a few the code is dead.
pub async fn verify_login_code_and_sign_in(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    email: &str,
    code: &str,
) -> DomainResult<SignedIn> {
    let scope = login_app(services, viewer, false)?;
    require_login_method(services, scope, LoginMethod::EmailCode).await?;
    let email = validation::email("email", email)?;
    limits::FAILED_VERIFICATIONS_PER_ADDRESS
        .check_opt(services, client_address)
        .await?;
    let subject = code_subject(scope, &email.normalized);
    let right = passwordless::claim_code(
        services.db(),
        scope,
        &email.normalized,
        services.clock().now(),
        LOGIN_CODE_MAX_ATTEMPTS,
        |code_hash| verify_login_code(&subject, code, code_hash),
    )
    .await?;
    if !right {
        limits::FAILED_VERIFICATIONS_PER_ADDRESS
            .hit_opt(services, client_address)
            .await?;
        return Err(invalid_code());
    }
    sign_in_verified(services, scope, &email.normalized, invalid_code).await
}

/// Mails a link to `redirect_url` (an allowed origin of the app) with a
/// one-time token. Answers how long a link lasts, the same for every email.
pub async fn request_magic_link(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    email: &str,
    redirect_url: &str,
) -> DomainResult<Duration> {
    let LoginRequest {
        scope,
        email,
        settings,
    } = login_request(
        services,
        viewer,
        client_address,
        email,
        LoginMethod::MagicLink,
    )
    .await?;
    let redirect = validation::redirect_url(
        "redirectUrl",
        redirect_url,
        &settings.allowed_redirect_origins,
    )?;
    if let Some(to) = recipient(services, scope, &settings, &email).await? {
        let token = generate_magic_link_token();
        let now = services.clock().now();
        passwordless::insert_link(
            services.db(),
            scope,
            &email.normalized,
            hash_token(&token),
            now,
            now + MAGIC_LINK_TTL,
        )
        .await?;
        let link = magic_link(redirect.as_str(), &token);
        send_login_mail(services, scope, to, "link", MAGIC_LINK_TTL, |app| {
            format!("Open this link to sign in to {app}:\n\n{link}")
        })
        .await?;
    }
    Ok(MAGIC_LINK_TTL)
}

/// Signs in with a magic link's token, once.
pub async fn verify_magic_link(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    token: &str,
) -> DomainResult<SignedIn> {
    let scope = login_app(services, viewer, false)?;
    require_login_method(services, scope, LoginMethod::MagicLink).await?;
    limits::FAILED_VERIFICATIONS_PER_ADDRESS
        .check_opt(services, client_address)
        .await?;
    let claimed = passwordless::claim_link(
        services.db(),
        scope,
        &hash_token(token),
        services.clock().now(),
    )
    .await?;
    let Some(email) = claimed else {
        limits::FAILED_VERIFICATIONS_PER_ADDRESS
            .hit_opt(services, client_address)
            .await?;
        return Err(invalid_link());
    };
    sign_in_verified(services, scope, &email, invalid_link).await
}

fn invalid_code() -> DomainError {
    DomainError::unauthenticated("the code is wrong, used or expired: request a new one")
        .with_field("code")
}

fn invalid_link() -> DomainError {
    DomainError::unauthenticated("the link is invalid, used or expired: request a new one")
        .with_field("token")
}

/// Whether a verified email without an account gets one. Console sign-up
/// stays behind `ORBIT_CONSOLE_SIGNUP` too.
fn sign_up_allowed(services: &Services, scope: AppScope, settings: &AppSettings) -> bool {
    settings.passwordless_sign_up && (scope != services.console() || services.console_signup_open())
}

/// Where a code or link for `email` goes: the account's address, or the
/// address given when the app signs people up on first login; `None`
/// (nothing is sent) for an unknown email otherwise.
async fn recipient(
    services: &Services,
    scope: AppScope,
    settings: &AppSettings,
    email: &validation::Email,
) -> DomainResult<Option<String>> {
    if let Some((user, _)) = users::find_by_email(services.db(), scope, &email.normalized).await? {
        return Ok(Some(user.email));
    }
    Ok(sign_up_allowed(services, scope, settings).then(|| email.display.clone()))
}

/// What both requests start from: the app asked, the email, its settings.
struct LoginRequest {
    scope: AppScope,
    email: validation::Email,
    settings: AppSettings,
}

async fn login_request(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    email: &str,
    method: LoginMethod,
) -> DomainResult<LoginRequest> {
    let scope = login_app(services, viewer, false)?;
    let settings = require_login_method(services, scope, method).await?;
    let email = validation::email("email", email)?;
    // Before anything about the email is looked up: the same for every email.
    limits::LOGIN_MAILS_PER_ADDRESS
        .hit_opt(services, client_address)
        .await?;
    limits::LOGIN_MAILS_PER_ACCOUNT
        .hit(services, &limits::account(scope, &email.normalized))
        .await?;
    Ok(LoginRequest {
        scope,
        email,
        settings,
    })
}

/// Mails a sign-in `kind` ("code", "link") whose body starts with
/// `opening(app name)`, in the background.
async fn send_login_mail(
    services: &Services,
    scope: AppScope,
    to: String,
    kind: &str,
    lifetime: Duration,
    opening: impl FnOnce(&str) -> String,
) -> DomainResult<()> {
    let app = apps::find(services.db(), scope.app_id())
        .await?
        .ok_or_else(|| DomainError::not_found("app"))?
        .name;
    services.mailer().send_later(Email {
        to,
        subject: format!("Your {app} sign-in {kind}"),
        text: format!(
            "{}\n\nIt works once, within {} minutes. If you did not ask for it, ignore this mail.\n",
            opening(&app),
            lifetime.num_minutes()
        ),
    });
    Ok(())
}

/// What a code's hash is bound to: its app and email.
fn code_subject(scope: AppScope, email_normalized: &str) -> String {
    format!("{}:{email_normalized}", scope.app_id())
}

/// Signs in the account of a verified email, creating it when the app
/// allows sign-up on first login.
async fn sign_in_verified(
    services: &Services,
    scope: AppScope,
    email_normalized: &str,
    invalid: fn() -> DomainError,
) -> DomainResult<SignedIn> {
    let user = match users::find_by_email(services.db(), scope, email_normalized).await? {
        Some((user, _)) => user,
        None => {
            let settings = app_settings::get(services.db(), scope).await?;
            if !sign_up_allowed(services, scope, &settings) {
                return Err(invalid());
            }
            create_user(services, scope, email_normalized, invalid).await?
        }
    };
    start_session(services, scope, user).await
}

/// An account without a password, named after the email's local part.
async fn create_user(
    services: &Services,
    scope: AppScope,
    email_normalized: &str,
    invalid: fn() -> DomainError,
) -> DomainResult<user::Model> {
    let email = validation::email("email", email_normalized)?;
    let local_part = email.normalized.split('@').next().unwrap_or_default();
    let display_name = validation::text_line("displayName", local_part, validation::MAX_NAME_CHARS)
        .unwrap_or_else(|_| "New user".to_owned());
    let new_user = NewUser {
        email,
        display_name,
        password_hash: None,
    };
    match users::create(services.db(), scope, services.clock().now(), new_user).await {
        Ok(user) => Ok(user),
        // A code and a link of the same email verified at the same moment.
        Err(error) if error.code == ErrorCode::Conflict => {
            users::find_by_email(services.db(), scope, email_normalized)
                .await?
                .map(|(user, _)| user)
                .ok_or_else(invalid)
        }
        Err(error) => Err(error),
    }
}
