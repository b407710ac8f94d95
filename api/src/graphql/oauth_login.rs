//! Login with an app's outside OAuth providers, as the app's front end sees
//! it: `startOAuthLogin` gives the provider's authorization URL, the browser
//! comes back to the app's `redirectUrl` with a one-time `code`, and
//! `completeOAuthLogin` exchanges it for tokens. See `crate::application::oauth_login`.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::DomainError;
use orbit_domain::entities::user_identity;
use orbit_domain::ids::{AppScope, UserId};
use orbit_persistence::oauth_logins;

use super::auth::AuthPayload;
use super::{GqlResult, client_address, services, viewer};
use crate::Services;
use crate::application::oauth_login::{self, RequestHost, StartRequest, callback_url};
use crate::application::sessions::login_app;
use crate::services::OAUTH_LOGIN_TTL;
use crate::viewer::Viewer;

#[derive(InputObject)]
pub struct StartOAuthLoginInput {
    /// The provider's slug (`App.loginProviders`).
    provider: String,
    /// The app's page the browser comes back to, with `code` (or `error`)
    /// added to its query; on one of the app's `allowedRedirectOrigins`.
    redirect_url: String,
    /// Given back unchanged on the redirect (up to 512 printable ASCII
    /// characters): tie the answer to the page that asked.
    state: Option<String>,
}

#[derive(SimpleObject)]
pub struct StartOAuthLoginPayload {
    /// Send the browser here (the provider's consent page).
    authorization_url: String,
    /// Seconds the login has to come back from the provider.
    expires_in: i32,
}

#[derive(InputObject)]
pub struct CompleteOAuthLoginInput {
    /// The `code` the redirect added to the app's page.
    code: String,
}

/// An account at an outside provider, linked to a user by the provider's
/// issuer and subject.
pub struct UserIdentityNode(user_identity::Model);

#[Object(name = "UserIdentity")]
impl UserIdentityNode {
    /// Who vouches for the person (`https://accounts.google.com`).
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    /// The provider's slug it was last used through.
    async fn provider(&self) -> &str {
        &self.0.provider_slug
    }
    /// The email the provider gave at the last login.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_login_at(&self) -> DateTime<Utc> {
        self.0.last_login_at
    }
}

/// `User.identities`, once the caller may see them.
pub(super) async fn identities(
    services: &Services,
    scope: AppScope,
    user: UserId,
) -> GqlResult<Vec<UserIdentityNode>> {
    let found = oauth_logins::identities_of(services.db(), scope, user).await?;
    Ok(found.into_iter().map(UserIdentityNode).collect())
}

#[derive(Default)]
pub struct OAuthLoginMutation;

#[Object]
impl OAuthLoginMutation {
    /// Starts a login with one of the app's outside providers (publishable
    /// or secret key; no credential for the console). With a user's access
    /// token it links the provider's identity to that user instead: the
    /// browser then comes back with `linked=<provider>` and no code.
    #[graphql(name = "startOAuthLogin")]
    async fn start_oauth_login(
        &self,
        ctx: &Context<'_>,
        input: StartOAuthLoginInput,
    ) -> GqlResult<StartOAuthLoginPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let (scope, link_user) = match *viewer {
            Viewer::User { app, user, .. } => (app, Some(user)),
            _ => (login_app(services, viewer, false)?, None),
        };
        let host = ctx.data_opt::<RequestHost>().map(|host| host.0.as_str());
        let callback_url = callback_url(services, host).ok_or_else(|| {
            DomainError::forbidden(
                "over a WebSocket this needs the server's ORBIT_PUBLIC_URL: call it over HTTP",
            )
        })?;
        let url = oauth_login::start(
            services,
            scope,
            StartRequest {
                provider: &input.provider,
                redirect_url: &input.redirect_url,
                client_state: input.state.as_deref(),
                link_user,
                callback_url,
                client_address: client_address(ctx),
            },
        )
        .await?;
        Ok(StartOAuthLoginPayload {
            authorization_url: url.to_string(),
            expires_in: OAUTH_LOGIN_TTL.num_seconds() as i32,
        })
    }

    /// Exchanges the one-time `code` of a finished provider login (valid 2
    /// minutes, once) for tokens, with the same app's key.
    #[graphql(name = "completeOAuthLogin")]
    async fn complete_oauth_login(
        &self,
        ctx: &Context<'_>,
        input: CompleteOAuthLoginInput,
    ) -> GqlResult<AuthPayload> {
        let address = client_address(ctx);
        let signed_in =
            oauth_login::complete(services(ctx), viewer(ctx), address.as_deref(), &input.code)
                .await?;
        Ok(signed_in.into())
    }
}
