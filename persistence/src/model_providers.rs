//! An app's model providers. The API key arrives sealed: this module stores
//! what it is given and never sees a key in clear.

use chrono::{DateTime, Utc};
use orbit_domain::entities::{agent, model_provider};
use orbit_domain::ids::{AppScope, ModelProviderId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};

use crate::{Db, Page, PageArgs, db_error, keyset};

pub struct NewProvider {
    pub id: ModelProviderId,
    pub name: String,
    pub kind: &'static str,
    pub base_url: Option<String>,
    pub api_key_sealed: Option<String>,
    pub script: Option<serde_json::Value>,
    pub request_timeout_secs: i32,
    pub idle_timeout_secs: i32,
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewProvider,
) -> DomainResult<model_provider::Model> {
    model_provider::ActiveModel {
        id: Set(new.id.uuid()),
        app_id: Set(scope.uuid()),
        name: Set(new.name),
        kind: Set(new.kind.to_owned()),
        base_url: Set(new.base_url),
        api_key_sealed: Set(new.api_key_sealed),
        script: Set(new.script),
        request_timeout_secs: Set(new.request_timeout_secs),
        idle_timeout_secs: Set(new.idle_timeout_secs),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.conn())
    .await
    .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find(
    db: &Db,
    scope: AppScope,
    id: ModelProviderId,
) -> DomainResult<Option<model_provider::Model>> {
    model_provider::Entity::find_by_id(id.uuid())
        .filter(model_provider::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// What an update changes; `None` keeps the value. `api_key_sealed:
/// Some(None)` removes the key.
#[derive(Default)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub api_key_sealed: Option<Option<String>>,
    pub script: Option<serde_json::Value>,
    pub request_timeout_secs: Option<i32>,
    pub idle_timeout_secs: Option<i32>,
}

/// Changes `existing` (a provider the caller found in its app).
#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    existing: model_provider::Model,
    now: DateTime<Utc>,
    changes: ProviderChanges,
) -> DomainResult<model_provider::Model> {
    let mut active: model_provider::ActiveModel = existing.into();
    if let Some(name) = changes.name {
        active.name = Set(name);
    }
    if let Some(base_url) = changes.base_url {
        active.base_url = Set(Some(base_url));
    }
    if let Some(sealed) = changes.api_key_sealed {
        active.api_key_sealed = Set(sealed);
    }
    if let Some(script) = changes.script {
        active.script = Set(Some(script));
    }
    if let Some(seconds) = changes.request_timeout_secs {
        active.request_timeout_secs = Set(seconds);
    }
    if let Some(seconds) = changes.idle_timeout_secs {
        active.idle_timeout_secs = Set(seconds);
    }
    active.updated_at = Set(now);
    active.update(db.conn()).await.map_err(db_error)
}

/// Deletes a provider no agent uses; CONFLICT otherwise. The check and the
/// delete share a transaction, and the foreign key refuses what slips by.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: ModelProviderId) -> DomainResult<()> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let users = agent::Entity::find()
        .filter(agent::Column::AppId.eq(scope.uuid()))
        .filter(agent::Column::ProviderId.eq(id.uuid()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if users > 0 {
        return Err(DomainError::conflict(format!(
            "{users} agent(s) use this provider: move them to another first"
        ))
        .with_field("id"));
    }
    let deleted = model_provider::Entity::delete_many()
        .filter(model_provider::Column::AppId.eq(scope.uuid()))
        .filter(model_provider::Column::Id.eq(id.uuid()))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("model provider").with_field("id"));
    }
    db.commit(txn).await
}

/// The app's providers, oldest first.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    args: PageArgs,
) -> DomainResult<Page<model_provider::Model>> {
    let select =
        model_provider::Entity::find().filter(model_provider::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(model_provider::Column::AppId),
        model_provider::Column::Id,
        false,
        args,
    )
    .await
}
