//! Signing in and sessions: sign up and log in with a password, exchange a
//! refresh token, log out, change a password, disable a user. Every way of
//! signing in (these, emailed codes and links, outside providers, the
//! device flow) ends in [`start_session`].

use chrono::Duration;
use orbit_auth::{
    ACCESS_TOKEN_TYPE, AccessClaims, generate_token, hash_token, verify_dummy_password,
    verify_password,
};
use orbit_domain::entities::user;
use orbit_domain::ids::{AppId, AppScope, SessionId, UserId};
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::app_settings::LoginMethod;
use orbit_persistence::sessions::{self, Rotation};
use orbit_persistence::users::{self, NewUser};

use super::login_methods::require_login_method;
use crate::services::{ACCESS_TOKEN_TTL, SESSION_TTL};
use crate::viewer::Viewer;
use crate::{Services, limits};

/// A user signed in: their tokens, shown to them once.
pub struct SignedIn {
    pub access_token: String,
    /// Opaque; each one is exchanged once for new tokens.
    pub refresh_token: String,
    /// How long the access token lasts.
    pub expires_in: Duration,
    pub user: user::Model,
}

/// argon2 takes tens of milliseconds of CPU: it runs off the async
/// workers, within the share of the cores password work may take.
pub async fn hash_password(services: &Services, password: String) -> DomainResult<String> {
    services
        .password_work()
        .run(move || orbit_auth::hash_password(&password))
        .await?
        .map_err(DomainError::internal)
}

async fn check_password(
    services: &Services,
    password: String,
    hash: Option<String>,
) -> DomainResult<bool> {
    services
        .password_work()
        .run(move || match hash {
            Some(hash) => verify_password(&password, &hash),
            None => {
                // Same work for an unknown email, so timing does not tell which emails exist.
                verify_dummy_password(&password);
                false
            }
        })
        .await
}

/// The app a sign-up or login is for: a publishable or secret key's app, or
/// the console app for callers without credentials.
pub fn login_app(services: &Services, viewer: &Viewer, signing_up: bool) -> DomainResult<AppScope> {
    match *viewer {
        Viewer::Publishable { app } | Viewer::Secret { app } => Ok(app),
        Viewer::Anonymous { app } => {
            if signing_up && !services.console_signup_open() {
                return Err(DomainError::forbidden(
                    "developer sign-up is closed on this server",
                ));
            }
            Ok(app)
        }
        Viewer::User { .. } => Err(DomainError::forbidden("already signed in: log out first")),
    }
}

/// Signs `user` in: a new session, its first refresh token and an access
/// token. Every way of logging in ends here.
pub async fn start_session(
    services: &Services,
    scope: AppScope,
    user: user::Model,
) -> DomainResult<SignedIn> {
    // Every way in ends here, so a disabled account has none.
    if user.disabled_at.is_some() {
        return Err(DomainError::unauthenticated(
            "this account is disabled: ask the app's developers",
        ));
    }
    let refresh_token = generate_token("rt_");
    let session = sessions::create(
        services.db(),
        scope,
        UserId(user.id),
        services.clock().now(),
        SESSION_TTL,
        hash_token(&refresh_token),
    )
    .await?;
    let access_token = access_token(services, &user, SessionId(session.id)).await?;
    Ok(SignedIn {
        access_token,
        refresh_token,
        expires_in: ACCESS_TOKEN_TTL,
        user,
    })
}

/// What a password sign-up gives.
pub struct PasswordSignUp<'a> {
    pub email: &'a str,
    pub password: String,
    pub display_name: &'a str,
}

/// Creates a user with a password in the caller's app and signs them in.
pub async fn sign_up(
    services: &Services,
    viewer: &Viewer,
    input: PasswordSignUp<'_>,
) -> DomainResult<SignedIn> {
    let scope = login_app(services, viewer, true)?;
    // A password account that could not log in would be no account.
    let settings = require_login_method(services, scope, LoginMethod::Password).await?;
    if !settings.password_sign_up {
        return Err(DomainError::forbidden(
            "this app does not let users sign up with a password (passwordSignUp is off)",
        )
        .with_field("passwordSignUp"));
    }
    let email = validation::email("email", input.email)?;
    validation::password("password", &input.password)?;
    let display_name = validation::text_line(
        "displayName",
        input.display_name,
        validation::MAX_NAME_CHARS,
    )?;
    let password_hash = hash_password(services, input.password).await?;
    let user = users::create(
        services.db(),
        scope,
        services.clock().now(),
        NewUser {
            email,
            display_name,
            password_hash: Some(password_hash),
        },
    )
    .await?;
    start_session(services, scope, user).await
}

/// Logs a user of the caller's app in with email and password. Failures
/// are counted per address and per account (whether the account exists or
/// not), and answer one message whatever the reason.
pub async fn log_in(
    services: &Services,
    viewer: &Viewer,
    client_address: Option<&str>,
    email: &str,
    password: String,
) -> DomainResult<SignedIn> {
    let scope = login_app(services, viewer, false)?;
    require_login_method(services, scope, LoginMethod::Password).await?;
    let email = validation::email("email", email)?;
    if password.len() > validation::MAX_PASSWORD_BYTES {
        return Err(wrong_credentials());
    }
    let found = users::find_by_email(services.db(), scope, &email.normalized).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    // Counted per account whether it exists or not, so the limit does
    // not tell which emails have one.
    let account = limits::account(scope, &email.normalized);
    limits::FAILED_PASSWORD_LOGINS_PER_ADDRESS
        .check_opt(services, client_address)
        .await?;
    limits::FAILED_PASSWORD_LOGINS_PER_ACCOUNT
        .check(services, &account)
        .await?;
    let matches = check_password(services, password, hash).await?;
    match user {
        Some(user) if matches => start_session(services, scope, user).await,
        _ => {
            limits::FAILED_PASSWORD_LOGINS_PER_ADDRESS
                .hit_opt(services, client_address)
                .await?;
            limits::FAILED_PASSWORD_LOGINS_PER_ACCOUNT
                .hit(services, &account)
                .await?;
            Err(wrong_credentials())
        }
    }
}

/// Exchanges a refresh token of the app for new tokens (`refreshSession`,
/// and the OAuth `refresh_token` grant). A spent one revokes its session.
pub async fn refresh(
    services: &Services,
    scope: AppScope,
    refresh_token: &str,
) -> DomainResult<SignedIn> {
    let replacement = generate_token("rt_");
    let now = services.clock().now();
    let rotation = sessions::rotate(
        services.db(),
        scope,
        &hash_token(refresh_token),
        hash_token(&replacement),
        now,
    )
    .await?;
    let session = match rotation {
        Rotation::Rotated(session) => session,
        Rotation::ReuseDetected => {
            tracing::warn!(app = %scope.app_id(), "refresh token reuse: session revoked");
            return Err(sessions::invalid_refresh_token());
        }
        Rotation::Invalid => return Err(sessions::invalid_refresh_token()),
    };
    let user = users::find(services.db(), scope, UserId(session.user_id))
        .await?
        .ok_or_else(sessions::invalid_refresh_token)?;
    let access_token = access_token(services, &user, SessionId(session.id)).await?;
    Ok(SignedIn {
        access_token,
        refresh_token: replacement,
        expires_in: ACCESS_TOKEN_TTL,
        user,
    })
}

/// Ends the caller's session, or every session of theirs. Returns how many ended.
pub async fn log_out(
    services: &Services,
    viewer: &Viewer,
    all_sessions: bool,
) -> DomainResult<u64> {
    let Viewer::User {
        app, user, session, ..
    } = *viewer
    else {
        return Err(DomainError::unauthenticated(
            "log in first: logOut needs a user's access token",
        ));
    };
    let only = (!all_sessions).then_some(session);
    sessions::revoke(services.db(), app, user, only, services.clock().now()).await
}

/// Ends one of the caller's own sessions; another user's is NOT_FOUND.
pub async fn revoke_session(
    services: &Services,
    viewer: &Viewer,
    session: SessionId,
) -> DomainResult<()> {
    let user = viewer.require_user()?;
    let revoked = sessions::revoke(
        services.db(),
        viewer.app(),
        user,
        Some(session),
        services.clock().now(),
    )
    .await?;
    if revoked == 0 {
        return Err(DomainError::not_found("session").with_field("id"));
    }
    Ok(())
}

/// Changes the caller's password: every session of theirs ends, and a new
/// one starts for the caller.
pub async fn change_password(
    services: &Services,
    viewer: &Viewer,
    current_password: String,
    new_password: String,
) -> DomainResult<SignedIn> {
    let user = viewer.require_user()?;
    let scope = viewer.app();
    validation::password("newPassword", &new_password)?;
    let wrong = || {
        DomainError::unauthenticated("the current password is wrong").with_field("currentPassword")
    };
    if current_password.len() > validation::MAX_PASSWORD_BYTES {
        return Err(wrong());
    }
    let Some(current) = users::password_hash(services.db(), scope, user).await? else {
        // A user made by a login code or link has no password to prove;
        // letting a bare access token set one would let it take over.
        return Err(DomainError::bad_input(
            "currentPassword",
            "this account has no password; it signs in by emailed code or link",
        ));
    };
    if !check_password(services, current_password, Some(current)).await? {
        return Err(wrong());
    }
    let hash = hash_password(services, new_password).await?;
    users::change_password(services.db(), scope, user, hash, services.clock().now()).await?;
    let model = users::find(services.db(), scope, user)
        .await?
        .ok_or_else(|| DomainError::not_found("user"))?;
    start_session(services, scope, model).await
}

/// Disables (or enables again) a user of the app: the secret key's call.
/// Disabling ends every session of theirs at once, on every server.
pub async fn set_user_disabled(
    services: &Services,
    viewer: &Viewer,
    user: UserId,
    disabled: bool,
) -> DomainResult<user::Model> {
    let scope = viewer.require_secret()?;
    users::set_disabled(services.db(), scope, user, disabled, services.clock().now()).await
}

/// Signed with the current key of the user's app.
async fn access_token(
    services: &Services,
    user: &user::Model,
    session: SessionId,
) -> DomainResult<String> {
    let now = services.clock().now();
    let claims = AccessClaims {
        iss: services.issuer().to_owned(),
        aud: AppId(user.app_id).to_string(),
        sub: UserId(user.id).to_string(),
        sid: session.to_string(),
        iat: now.timestamp(),
        exp: (now + ACCESS_TOKEN_TTL).timestamp(),
        typ: ACCESS_TOKEN_TYPE.to_owned(),
    };
    crate::signing_keys::issue(services, AppScope::new(AppId(user.app_id)), &claims).await
}

fn wrong_credentials() -> DomainError {
    DomainError::unauthenticated("the email or password is incorrect")
}
