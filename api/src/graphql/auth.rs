//! Sign-up, login, session refresh and logout, and the caller's profile.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_auth::{
    ACCESS_TOKEN_TYPE, AccessClaims, generate_token, hash_token, verify_dummy_password,
    verify_password,
};
use orbit_domain::entities::{session, user};
use orbit_domain::ids::{AppId, AppScope, SessionId, UserId};
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::app_settings::LoginMethod;
use orbit_persistence::sessions::{self, Rotation};
use orbit_persistence::users::{self, NewUser, ProfileChanges};

use super::app_settings::require_login_method;
use super::types::UserNode;
use super::{GqlResult, client_address, services, viewer};
use crate::services::{ACCESS_TOKEN_TTL, SESSION_TTL};
use crate::viewer::Viewer;
use crate::{Services, limits};

/// argon2 takes tens of milliseconds of CPU: it runs off the async
/// workers, within the share of the cores password work may take.
pub(crate) async fn hash_password(services: &Services, password: String) -> DomainResult<String> {
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

#[derive(SimpleObject)]
pub struct AuthPayload {
    pub(crate) access_token: String,
    /// Opaque; exchange it with `refreshSession`. Each one works once.
    pub(crate) refresh_token: String,
    /// Seconds until the access token expires.
    pub(crate) expires_in: i32,
    user: UserNode,
}

#[derive(InputObject)]
pub struct SignUpInput {
    email: String,
    password: String,
    display_name: String,
}

#[derive(InputObject)]
pub struct LogInInput {
    email: String,
    password: String,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    refresh_token: String,
}

#[derive(InputObject, Default)]
pub struct LogOutInput {
    /// End every session of the user, not only this one.
    all_sessions: Option<bool>,
}

#[derive(SimpleObject)]
pub struct LogOutPayload {
    revoked_sessions: i32,
}

#[derive(InputObject)]
pub struct SetUserDisabledInput {
    /// A user of the app.
    id: ID,
}

#[derive(SimpleObject)]
pub struct SetUserDisabledPayload {
    user: UserNode,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    current_password: String,
    new_password: String,
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    /// A session of the caller's (`Session.id`).
    id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    revoked_session_id: ID,
}

/// A signed-in device or browser of the user: one family of refresh tokens.
pub struct SessionNode {
    model: session::Model,
    current: bool,
}

impl SessionNode {
    pub(super) fn new(model: session::Model, viewer: &Viewer) -> Self {
        let current = matches!(viewer, Viewer::User { session, .. } if session.uuid() == model.id);
        Self { model, current }
    }
}

#[Object(name = "Session")]
impl SessionNode {
    async fn id(&self) -> ID {
        ID(SessionId(self.model.id).to_string())
    }
    /// Whether this is the session of the token that asks.
    async fn current(&self) -> bool {
        self.current
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// When its refresh token was last exchanged.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.model.last_used_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.model.expires_at
    }
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    display_name: Option<String>,
    /// null clears it.
    timezone: MaybeUndefined<String>,
    /// null clears it.
    avatar_url: MaybeUndefined<String>,
}

#[derive(SimpleObject)]
pub struct UpdateProfilePayload {
    user: UserNode,
}

/// The app a sign-up or login is for: a publishable or secret key's app, or
/// the console app for callers without credentials.
pub(super) fn login_app(
    services: &Services,
    viewer: &Viewer,
    signing_up: bool,
) -> DomainResult<orbit_domain::ids::AppScope> {
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
pub(crate) async fn start_session(
    services: &Services,
    scope: orbit_domain::ids::AppScope,
    user: user::Model,
) -> DomainResult<AuthPayload> {
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
    Ok(AuthPayload {
        access_token,
        refresh_token,
        expires_in: ACCESS_TOKEN_TTL.num_seconds() as i32,
        user: UserNode::authenticated(user),
    })
}

async fn set_user_disabled(
    ctx: &Context<'_>,
    input: SetUserDisabledInput,
    disabled: bool,
) -> GqlResult<SetUserDisabledPayload> {
    let services = services(ctx);
    let scope = viewer(ctx).require_secret()?;
    let id = UserId::parse_field(&input.id, "id")?;
    let user =
        users::set_disabled(services.db(), scope, id, disabled, services.clock().now()).await?;
    Ok(SetUserDisabledPayload {
        user: UserNode::new(user),
    })
}

/// Exchanges a refresh token of the app for new tokens (`refreshSession`,
/// and the OAuth `refresh_token` grant). A spent one revokes its session.
pub(crate) async fn refresh(
    services: &Services,
    scope: orbit_domain::ids::AppScope,
    refresh_token: &str,
) -> DomainResult<AuthPayload> {
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
    Ok(AuthPayload {
        access_token,
        refresh_token: replacement,
        expires_in: ACCESS_TOKEN_TTL.num_seconds() as i32,
        user: UserNode::authenticated(user),
    })
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

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates a user in the caller's app (publishable or secret key) and signs them in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        let scope = login_app(services, viewer(ctx), true)?;
        // A password account that could not log in would be no account.
        let settings = require_login_method(services, scope, LoginMethod::Password).await?;
        if !settings.password_sign_up {
            return Err(DomainError::forbidden(
                "this app does not let users sign up with a password (passwordSignUp is off)",
            )
            .with_field("passwordSignUp"));
        }
        let email = validation::email("email", &input.email)?;
        validation::password("password", &input.password)?;
        let display_name = validation::text_line(
            "displayName",
            &input.display_name,
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

    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        let scope = login_app(services, viewer(ctx), false)?;
        require_login_method(services, scope, LoginMethod::Password).await?;
        let email = validation::email("email", &input.email)?;
        if input.password.len() > validation::MAX_PASSWORD_BYTES {
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
        let address = client_address(ctx);
        limits::FAILED_PASSWORD_LOGINS_PER_ADDRESS
            .check_opt(services, address.as_deref())
            .await?;
        limits::FAILED_PASSWORD_LOGINS_PER_ACCOUNT
            .check(services, &account)
            .await?;
        let matches = check_password(services, input.password, hash).await?;
        match user {
            Some(user) if matches => start_session(services, scope, user).await,
            _ => {
                limits::FAILED_PASSWORD_LOGINS_PER_ADDRESS
                    .hit_opt(services, address.as_deref())
                    .await?;
                limits::FAILED_PASSWORD_LOGINS_PER_ACCOUNT
                    .hit(services, &account)
                    .await?;
                Err(wrong_credentials())
            }
        }
    }

    /// Exchanges a refresh token for a new access and refresh token. A refresh
    /// token already used ends its whole session: someone else may hold it.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        refresh(services, viewer(ctx).app(), &input.refresh_token).await
    }

    /// Ends this session (or all of the user's): their tokens stop working at once.
    async fn log_out(
        &self,
        ctx: &Context<'_>,
        input: Option<LogOutInput>,
    ) -> GqlResult<LogOutPayload> {
        let services = services(ctx);
        let Viewer::User {
            app, user, session, ..
        } = *viewer(ctx)
        else {
            return Err(DomainError::unauthenticated(
                "log in first: logOut needs a user's access token",
            ));
        };
        let only = if input.unwrap_or_default().all_sessions.unwrap_or(false) {
            None
        } else {
            Some(session)
        };
        let revoked =
            sessions::revoke(services.db(), app, user, only, services.clock().now()).await?;
        Ok(LogOutPayload {
            revoked_sessions: i32::try_from(revoked).unwrap_or(i32::MAX),
        })
    }

    /// Disables a user of the app (the secret key's call): every session
    /// of theirs ends at once, on every server (their sockets close with
    /// 4403), and no way of signing in works until `enableUser`.
    async fn disable_user(
        &self,
        ctx: &Context<'_>,
        input: SetUserDisabledInput,
    ) -> GqlResult<SetUserDisabledPayload> {
        set_user_disabled(ctx, input, true).await
    }

    /// Lets a disabled user sign in again (their old sessions stay ended).
    async fn enable_user(
        &self,
        ctx: &Context<'_>,
        input: SetUserDisabledInput,
    ) -> GqlResult<SetUserDisabledPayload> {
        set_user_disabled(ctx, input, false).await
    }

    /// Changes the caller's password. Every session of theirs ends, on
    /// every device (their sockets close with 4403), and a new one starts
    /// for the caller: keep the tokens this returns.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> GqlResult<AuthPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let scope = viewer.app();
        validation::password("newPassword", &input.new_password)?;
        let wrong = || {
            DomainError::unauthenticated("the current password is wrong")
                .with_field("currentPassword")
        };
        if input.current_password.len() > validation::MAX_PASSWORD_BYTES {
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
        if !check_password(services, input.current_password, Some(current)).await? {
            return Err(wrong());
        }
        let hash = hash_password(services, input.new_password).await?;
        users::change_password(services.db(), scope, user, hash, services.clock().now()).await?;
        let model = users::find(services.db(), scope, user)
            .await?
            .ok_or_else(|| DomainError::not_found("user"))?;
        start_session(services, scope, model).await
    }

    /// Ends one of the caller's sessions (signs that device out): its
    /// tokens stop working at once, on every server, and its open sockets
    /// close with 4403. Another user's session answers NOT_FOUND.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> GqlResult<RevokeSessionPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let id = SessionId::parse_field(&input.id, "id")?;
        let revoked = sessions::revoke(
            services.db(),
            viewer.app(),
            user,
            Some(id),
            services.clock().now(),
        )
        .await?;
        if revoked == 0 {
            return Err(DomainError::not_found("session").with_field("id"));
        }
        Ok(RevokeSessionPayload {
            revoked_session_id: input.id,
        })
    }

    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> GqlResult<UpdateProfilePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let mut changes = ProfileChanges::default();
        if let Some(name) = input.display_name {
            changes.display_name = Some(validation::text_line(
                "displayName",
                &name,
                validation::MAX_NAME_CHARS,
            )?);
        }
        changes.timezone = match input.timezone {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(tz) => Some(Some(validation::timezone("timezone", &tz)?)),
        };
        changes.avatar_url = match input.avatar_url {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(url) => Some(Some(validation::http_url("avatarUrl", &url)?)),
        };
        let updated = users::update_profile(
            services.db(),
            viewer.app(),
            user,
            services.clock().now(),
            changes,
        )
        .await?;
        Ok(UpdateProfilePayload {
            user: UserNode::new(updated),
        })
    }
}
