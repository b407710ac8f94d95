//! An app's login settings. An app that never changed them has the
//! defaults, without a row.

use chrono::{DateTime, Utc};
use orbit_domain::DomainResult;
use orbit_domain::entities::app_setting;
use orbit_domain::ids::AppScope;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::{Db, db_error};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// Canonical origins (`https://example.com`) magic links may lead to.
    pub allowed_redirect_origins: Vec<String>,
    /// A verified code or link for an unknown email creates the account.
    pub passwordless_sign_up: bool,
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
        }
    }
}

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
}

/// Applies `changes` and returns the settings as they now are. Only the
/// columns named change, so two concurrent updates of different settings
/// both hold.
pub async fn update(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    changes: SettingsChanges,
) -> DomainResult<AppSettings> {
    let mut changed = vec![app_setting::Column::UpdatedAt];
    if changes.allowed_redirect_origins.is_some() {
        changed.push(app_setting::Column::AllowedRedirectOrigins);
    }
    if changes.passwordless_sign_up.is_some() {
        changed.push(app_setting::Column::PasswordlessSignUp);
    }
    let defaults = AppSettings::default();
    let settings = AppSettings {
        allowed_redirect_origins: changes
            .allowed_redirect_origins
            .unwrap_or(defaults.allowed_redirect_origins),
        passwordless_sign_up: changes
            .passwordless_sign_up
            .unwrap_or(defaults.passwordless_sign_up),
    };
    // The inserted values serve an app without a row; an existing row
    // takes only the changed columns from them.
    let row = app_setting::ActiveModel {
        app_id: Set(scope.uuid()),
        allowed_redirect_origins: Set(serde_json::json!(settings.allowed_redirect_origins)),
        passwordless_sign_up: Set(settings.passwordless_sign_up),
        updated_at: Set(now),
    };
    app_setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(app_setting::Column::AppId)
                .update_columns(changed)
                .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await
        .map_err(db_error)?;
    get(db, scope).await
}
