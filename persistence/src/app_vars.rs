//! An app's variables. A secret value arrives sealed: this module stores
//! what it is given.

use chrono::{DateTime, Utc};
use orbit_domain::app_vars::MAX_APP_VARS;
use orbit_domain::entities::app_var;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::{Db, db_error};

/// A value as stored: in clear, or sealed.
pub enum StoredValue {
    Plain(String),
    Sealed(String),
}

/// Sets `name` to `value`, made or replaced; at most [`MAX_APP_VARS`] an app.
#[orbit_macros::boxed]
pub async fn set(
    db: &Db,
    scope: AppScope,
    name: &str,
    value: StoredValue,
    now: DateTime<Utc>,
) -> DomainResult<app_var::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let exists = app_var::Entity::find_by_id((scope.uuid(), name.to_owned()))
        .count(&txn)
        .await
        .map_err(db_error)?
        > 0;
    if !exists {
        let count = app_var::Entity::find()
            .filter(app_var::Column::AppId.eq(scope.uuid()))
            .count(&txn)
            .await
            .map_err(db_error)?;
        if count >= MAX_APP_VARS {
            return Err(DomainError::bad_input(
                "name",
                format!("an app may have at most {MAX_APP_VARS} variables"),
            ));
        }
    }
    let (plain, sealed) = match value {
        StoredValue::Plain(value) => (Some(value), None),
        StoredValue::Sealed(sealed) => (None, Some(sealed)),
    };
    let row = app_var::ActiveModel {
        app_id: Set(scope.uuid()),
        name: Set(name.to_owned()),
        value: Set(plain),
        value_sealed: Set(sealed),
        created_at: Set(now),
        updated_at: Set(now),
    };
    app_var::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([app_var::Column::AppId, app_var::Column::Name])
                .update_columns([
                    app_var::Column::Value,
                    app_var::Column::ValueSealed,
                    app_var::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(db_error)?;
    let stored = app_var::Entity::find_by_id((scope.uuid(), name.to_owned()))
        .one(&txn)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::internal("an app variable vanished as it was set"))?;
    db.commit(txn).await?;
    Ok(stored)
}

/// Deletes `name`; NOT_FOUND when the app has no such variable.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, name: &str) -> DomainResult<()> {
    let deleted = app_var::Entity::delete_many()
        .filter(app_var::Column::AppId.eq(scope.uuid()))
        .filter(app_var::Column::Name.eq(name))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::not_found("app variable").with_field("name"));
    }
    Ok(())
}

/// The app's variables, by name.
#[orbit_macros::boxed]
pub async fn all(db: &Db, scope: AppScope) -> DomainResult<Vec<app_var::Model>> {
    app_var::Entity::find()
        .filter(app_var::Column::AppId.eq(scope.uuid()))
        .order_by_asc(app_var::Column::Name)
        .all(db.conn())
        .await
        .map_err(db_error)
}
