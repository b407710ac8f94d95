//! Sign-up, login, session refresh and logout, and the caller's profile.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::entities::session;
use orbit_domain::ids::{SessionId, UserId};
use orbit_domain::validation;
use orbit_persistence::users::{self, ProfileChanges};

use super::types::UserNode;
use super::{GqlResult, client_address, services, viewer};
use crate::application::sessions::{self, PasswordSignUp, SignedIn};
use crate::viewer::Viewer;

#[derive(SimpleObject)]
pub struct AuthPayload {
    pub(crate) access_token: String,
    /// Opaque; exchange it with `refreshSession`. Each one works once.
    pub(crate) refresh_token: String,
    /// Seconds until the access token expires.
    pub(crate) expires_in: i32,
    user: UserNode,
}

impl From<SignedIn> for AuthPayload {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            access_token: signed_in.access_token,
            refresh_token: signed_in.refresh_token,
            expires_in: i32::try_from(signed_in.expires_in.num_seconds()).unwrap_or(i32::MAX),
            user: UserNode::authenticated(signed_in.user),
        }
    }
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

async fn set_user_disabled(
    ctx: &Context<'_>,
    input: SetUserDisabledInput,
    disabled: bool,
) -> GqlResult<SetUserDisabledPayload> {
    let id = UserId::parse_field(&input.id, "id")?;
    let user = sessions::set_user_disabled(services(ctx), viewer(ctx), id, disabled).await?;
    Ok(SetUserDisabledPayload {
        user: UserNode::new(user),
    })
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Creates a user in the caller's app (publishable or secret key) and signs them in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> GqlResult<AuthPayload> {
        let signed_in = sessions::sign_up(
            services(ctx),
            viewer(ctx),
            PasswordSignUp {
                email: &input.email,
                password: input.password,
                display_name: &input.display_name,
            },
        )
        .await?;
        Ok(signed_in.into())
    }

    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> GqlResult<AuthPayload> {
        let address = client_address(ctx);
        let signed_in = sessions::log_in(
            services(ctx),
            viewer(ctx),
            address.as_deref(),
            &input.email,
            input.password,
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Exchanges a refresh token for a new access and refresh token. A refresh
    /// token already used ends its whole session: someone else may hold it.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> GqlResult<AuthPayload> {
        let signed_in =
            sessions::refresh(services(ctx), viewer(ctx).app(), &input.refresh_token).await?;
        Ok(signed_in.into())
    }

    /// Ends this session (or all of the user's): their tokens stop working at once.
    async fn log_out(
        &self,
        ctx: &Context<'_>,
        input: Option<LogOutInput>,
    ) -> GqlResult<LogOutPayload> {
        let all_sessions = input.unwrap_or_default().all_sessions.unwrap_or(false);
        let revoked = sessions::log_out(services(ctx), viewer(ctx), all_sessions).await?;
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
        let signed_in = sessions::change_password(
            services(ctx),
            viewer(ctx),
            input.current_password,
            input.new_password,
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Ends one of the caller's sessions (signs that device out): its
    /// tokens stop working at once, on every server, and its open sockets
    /// close with 4403. Another user's session answers NOT_FOUND.
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        input: RevokeSessionInput,
    ) -> GqlResult<RevokeSessionPayload> {
        let id = SessionId::parse_field(&input.id, "id")?;
        sessions::revoke_session(services(ctx), viewer(ctx), id).await?;
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
