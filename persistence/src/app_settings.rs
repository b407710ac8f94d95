//! An app's login settings. An app that never changed them has the
//! defaults, without a row.

use chrono::{DateTime, Utc};
use orbit_domain::DomainResult;
use orbit_domain::entities::app_setting;
use orbit_domain::ids::AppScope;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::{Db, db_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// Canonical origins (`https://example.com`) magic links may lead to.
    pub allowed_redirect_origins: Vec<String>,
    /// A verified code or link for an unknown email creates the account.
    pub passwordless_sign_up: bool,
    /// `signUp` with a password creates accounts.
    pub password_sign_up: bool,
    /// Which ways of signing in are on.
    pub password_login: bool,
    pub email_code_login: bool,
    pub magic_link_login: bool,
    pub oauth_login: bool,
}

impl Default for AppSettings {
    /// What a new app has: every way of signing in on, password sign-up
    /// open (as it always was), passwordless sign-up off.
    fn default() -> Self {
        Self {
            allowed_redirect_origins: Vec::new(),
            passwordless_sign_up: false,
            password_sign_up: true,
            password_login: true,
            email_code_login: true,
            magic_link_login: true,
            oauth_login: true,
        }
    }
}

/// A way of signing in that an app can switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    Password,
    EmailCode,
    MagicLink,
    /// Outside OAuth providers.
    OAuth,
}

impl AppSettings {
    pub fn allows(&self, method: LoginMethod) -> bool {
        match method {
            LoginMethod::Password => self.password_login,
            LoginMethod::EmailCode => self.email_code_login,
            LoginMethod::MagicLink => self.magic_link_login,
            LoginMethod::OAuth => self.oauth_login,
        }
    }
}

impl From<app_setting::Model> for AppSettings {
    fn from(row: app_setting::Model) -> Self {
        let allowed_redirect_origins = row
            .allowed_redirect_origins
            .as_array()
            .map(|origins| {
                origins
                    .iter()
                    .filter_map(|origin| origin.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            allowed_redirect_origins,
            passwordless_sign_up: row.passwordless_sign_up,
            password_sign_up: row.password_sign_up,
            password_login: row.password_login,
            email_code_login: row.email_code_login,
            magic_link_login: row.magic_link_login,
            oauth_login: row.oauth_login,
        }
    }
}

#[orbit_macros::boxed]
pub async fn get(db: &Db, scope: AppScope) -> DomainResult<AppSettings> {
    let row = app_setting::Entity::find_by_id(scope.uuid())
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(row.map(AppSettings::from).unwrap_or_default())
}

/// What to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct SettingsChanges {
    pub allowed_redirect_origins: Option<Vec<String>>,
    pub passwordless_sign_up: Option<bool>,
    pub password_sign_up: Option<bool>,
    pub password_login: Option<bool>,
    pub email_code_login: Option<bool>,
    pub magic_link_login: Option<bool>,
    pub oauth_login: Option<bool>,
}

/// Applies `changes` and returns the settings as they now are. Only the
/// columns named change, so two concurrent updates of different settings
/// both hold.
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    changes: SettingsChanges,
) -> DomainResult<AppSettings> {
    use app_setting::Column;
    let mut changed = vec![Column::UpdatedAt];
    let defaults = AppSettings::default();
    // Each switch: the value to insert for an app without a row, and
    // whether an existing row takes it.
    let mut switch = |value: Option<bool>, default: bool, column: Column| {
        if value.is_some() {
            changed.push(column);
        }
        value.unwrap_or(default)
    };
    let passwordless_sign_up = switch(
        changes.passwordless_sign_up,
        defaults.passwordless_sign_up,
        Column::PasswordlessSignUp,
    );
    let password_sign_up = switch(
        changes.password_sign_up,
        defaults.password_sign_up,
        Column::PasswordSignUp,
    );
    let password_login = switch(
        changes.password_login,
        defaults.password_login,
        Column::PasswordLogin,
    );
    let email_code_login = switch(
        changes.email_code_login,
        defaults.email_code_login,
        Column::EmailCodeLogin,
    );
    let magic_link_login = switch(
        changes.magic_link_login,
        defaults.magic_link_login,
        Column::MagicLinkLogin,
    );
    let oauth_login = switch(
        changes.oauth_login,
        defaults.oauth_login,
        Column::OauthLogin,
    );
    if changes.allowed_redirect_origins.is_some() {
        changed.push(Column::AllowedRedirectOrigins);
    }
    let origins = changes
        .allowed_redirect_origins
        .unwrap_or(defaults.allowed_redirect_origins);
    // The inserted values serve an app without a row; an existing row
    // takes only the changed columns from them.
    let row = app_setting::ActiveModel {
        app_id: Set(scope.uuid()),
        allowed_redirect_origins: Set(serde_json::json!(origins)),
        passwordless_sign_up: Set(passwordless_sign_up),
        updated_at: Set(now),
        password_login: Set(password_login),
        password_sign_up: Set(password_sign_up),
        email_code_login: Set(email_code_login),
        magic_link_login: Set(magic_link_login),
        oauth_login: Set(oauth_login),
    };
    app_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::AppId)
                .update_columns(changed)
                .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await
        .map_err(db_error)?;
    get(db, scope).await
}
