//! Login by emailed one-time code and by magic link. A request answers the
//! same whether the email has an account or not (and mails in the
//! background, so neither does its timing tell); a verification that fails
//! answers one UNAUTHENTICATED, whatever the reason.

use async_graphql::{Context, InputObject, Object, SimpleObject};
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

use super::auth::AuthPayload;
use super::{GqlResult, client_address, services, viewer};
use crate::application::login_methods::require_login_method;
use crate::application::sessions::{login_app, start_session};
use crate::mail::Email;
use crate::services::{LOGIN_CODE_TTL, MAGIC_LINK_TTL};
use crate::{Services, limits};

#[derive(InputObject)]
pub struct RequestLoginCodeInput {
    email: String,
}

#[derive(InputObject)]
pub struct VerifyLoginCodeInput {
    email: String,
    /// The six digits from the mail.
    code: String,
}

#[derive(InputObject)]
pub struct RequestMagicLinkInput {
    email: String,
    /// Where the mailed link leads, with `token` added to its query. Its
    /// origin must be one of the app's `allowedRedirectOrigins`.
    redirect_url: String,
}

#[derive(InputObject)]
pub struct VerifyMagicLinkInput {
    /// The `token` query parameter of the link.
    token: String,
}

/// The same for every email, whether it has an account or not.
#[derive(SimpleObject)]
pub struct RequestLoginCodePayload {
    /// Always true: the request was taken. Whether a mail went out is not said.
    ok: bool,
    /// Seconds a mailed code stays valid.
    expires_in: i32,
}

/// The same for every email, whether it has an account or not.
#[derive(SimpleObject)]
pub struct RequestMagicLinkPayload {
    /// Always true: the request was taken. Whether a mail went out is not said.
    ok: bool,
    /// Seconds a mailed link stays valid.
    expires_in: i32,
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
    ctx: &Context<'_>,
    email: &str,
    method: LoginMethod,
) -> DomainResult<LoginRequest> {
    let services = services(ctx);
    let scope = login_app(services, viewer(ctx), false)?;
    let settings = require_login_method(services, scope, method).await?;
    let email = validation::email("email", email)?;
    // Before anything about the email is looked up: the same for every email.
    limits::LOGIN_MAILS_PER_ADDRESS
        .hit_opt(services, client_address(ctx).as_deref())
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
) -> DomainResult<AuthPayload> {
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
    Ok(start_session(services, scope, user).await?.into())
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

#[derive(Default)]
pub struct PasswordlessMutation;

#[Object]
impl PasswordlessMutation {
    /// Mails a six-digit code that signs in with `verifyLoginCode` (valid 10
    /// minutes, once, 5 tries); it replaces any earlier code. Nothing is sent
    /// to an email without an account unless the app has
    /// `passwordlessSignUp`; the answer is the same either way.
    async fn request_login_code(
        &self,
        ctx: &Context<'_>,
        input: RequestLoginCodeInput,
    ) -> GqlResult<RequestLoginCodePayload> {
        let services = services(ctx);
        let LoginRequest {
            scope,
            email,
            settings,
        } = login_request(ctx, &input.email, LoginMethod::EmailCode).await?;
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
        Ok(RequestLoginCodePayload {
            ok: true,
            expires_in: LOGIN_CODE_TTL.num_seconds() as i32,
        })
    }

    /// Signs in with a mailed code → `AuthPayload`. Every try counts; after
    /// 5 the code is dead.
    async fn verify_login_code(
        &self,
        ctx: &Context<'_>,
        input: VerifyLoginCodeInput,
    ) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        let scope = login_app(services, viewer(ctx), false)?;
        require_login_method(services, scope, LoginMethod::EmailCode).await?;
        let email = validation::email("email", &input.email)?;
        let address = client_address(ctx);
        limits::FAILED_VERIFICATIONS_PER_ADDRESS
            .check_opt(services, address.as_deref())
            .await?;
        let subject = code_subject(scope, &email.normalized);
        let right = passwordless::claim_code(
            services.db(),
            scope,
            &email.normalized,
            services.clock().now(),
            LOGIN_CODE_MAX_ATTEMPTS,
            |code_hash| verify_login_code(&subject, &input.code, code_hash),
        )
        .await?;
        if !right {
            limits::FAILED_VERIFICATIONS_PER_ADDRESS
                .hit_opt(services, address.as_deref())
                .await?;
            return Err(invalid_code());
        }
        sign_in_verified(services, scope, &email.normalized, invalid_code).await
    }

    /// Mails a link to `redirectUrl` with `token` added to its query (valid
    /// 15 minutes, once); `verifyMagicLink` signs in with the token. Same
    /// rules for unknown emails as `requestLoginCode`.
    async fn request_magic_link(
        &self,
        ctx: &Context<'_>,
        input: RequestMagicLinkInput,
    ) -> GqlResult<RequestMagicLinkPayload> {
        let services = services(ctx);
        let LoginRequest {
            scope,
            email,
            settings,
        } = login_request(ctx, &input.email, LoginMethod::MagicLink).await?;
        let redirect = validation::redirect_url(
            "redirectUrl",
            &input.redirect_url,
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
        Ok(RequestMagicLinkPayload {
            ok: true,
            expires_in: MAGIC_LINK_TTL.num_seconds() as i32,
        })
    }

    /// Signs in with a magic link's token → `AuthPayload`.
    async fn verify_magic_link(
        &self,
        ctx: &Context<'_>,
        input: VerifyMagicLinkInput,
    ) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        let scope = login_app(services, viewer(ctx), false)?;
        require_login_method(services, scope, LoginMethod::MagicLink).await?;
        let address = client_address(ctx);
        limits::FAILED_VERIFICATIONS_PER_ADDRESS
            .check_opt(services, address.as_deref())
            .await?;
        let claimed = passwordless::claim_link(
            services.db(),
            scope,
            &hash_token(&input.token),
            services.clock().now(),
        )
        .await?;
        let Some(email) = claimed else {
            limits::FAILED_VERIFICATIONS_PER_ADDRESS
                .hit_opt(services, address.as_deref())
                .await?;
            return Err(invalid_link());
        };
        sign_in_verified(services, scope, &email, invalid_link).await
    }
}
