//! An app's login settings: read through `App.settings`, changed with
//! `updateAppSettings`, by the app's secret key and its developers; and the
//! check every way of signing in makes against them.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use orbit_domain::policy::AppAction;
use orbit_domain::validation;
use orbit_persistence::app_settings::{self, AppSettings, SettingsChanges};

use super::{GqlResult, services, viewer};
use crate::application::access;

pub struct AppSettingsNode(pub AppSettings);

#[Object(name = "AppSettings")]
impl AppSettingsNode {
    /// Origins (`https://example.com`, `http://localhost:3000`) a magic
    /// link's `redirectUrl` may be on; scheme, host and port must match exactly.
    async fn allowed_redirect_origins(&self) -> &[String] {
        &self.0.allowed_redirect_origins
    }
    /// Whether a verified code or link for an email without an account
    /// creates the account.
    async fn passwordless_sign_up(&self) -> bool {
        self.0.passwordless_sign_up
    }
    /// Whether `signUp` (with a password) creates accounts. On by default.
    async fn password_sign_up(&self) -> bool {
        self.0.password_sign_up
    }
    /// Whether `logIn` (and `signUp`) with a password work. On by default.
    async fn password_login(&self) -> bool {
        self.0.password_login
    }
    /// Whether `requestLoginCode` / `verifyLoginCode` work. On by default.
    async fn email_code_login(&self) -> bool {
        self.0.email_code_login
    }
    /// Whether `requestMagicLink` / `verifyMagicLink` work. On by default.
    async fn magic_link_login(&self) -> bool {
        self.0.magic_link_login
    }
    /// Whether users may sign in with the app's outside OAuth providers.
    /// On by default.
    async fn oauth_login(&self) -> bool {
        self.0.oauth_login
    }
}

#[derive(InputObject)]
pub struct UpdateAppSettingsInput {
    /// The app to change: required for developers (owners and admins), may be
    /// omitted with the app's secret key.
    app_id: Option<ID>,
    /// Replaces the list (at most 20): http or https origins, no path,
    /// query or fragment. Omitted or null keeps it.
    allowed_redirect_origins: Option<Vec<String>>,
    /// Omitted or null keeps it (as for every switch below).
    passwordless_sign_up: Option<bool>,
    password_sign_up: Option<bool>,
    password_login: Option<bool>,
    email_code_login: Option<bool>,
    magic_link_login: Option<bool>,
    oauth_login: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateAppSettingsPayload {
    settings: AppSettingsNode,
}

#[derive(Default)]
pub struct AppSettingsMutation;

#[Object]
impl AppSettingsMutation {
    /// Changes the app's login settings (its secret key, or its owners and admins).
    async fn update_app_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateAppSettingsInput,
    ) -> GqlResult<UpdateAppSettingsPayload> {
        let services = services(ctx);
        let (scope, _) = access::managed_app(
            services,
            viewer(ctx),
            input.app_id.as_ref().map(|id| id.as_str()),
            AppAction::Configure,
        )
        .await?;
        let allowed_redirect_origins = input
            .allowed_redirect_origins
            .map(|origins| validation::origins("allowedRedirectOrigins", &origins))
            .transpose()?;
        let changes = SettingsChanges {
            allowed_redirect_origins,
            passwordless_sign_up: input.passwordless_sign_up,
            password_sign_up: input.password_sign_up,
            password_login: input.password_login,
            email_code_login: input.email_code_login,
            magic_link_login: input.magic_link_login,
            oauth_login: input.oauth_login,
        };
        let settings =
            app_settings::update(services.db(), scope, services.clock().now(), changes).await?;
        Ok(UpdateAppSettingsPayload {
            settings: AppSettingsNode(settings),
        })
    }
}
