//! The versions of each app's access-token signing key. Only their lives
//! are stored (the keys are derived from the server secret): the version
//! without `retired_at` signs new tokens, the one retired last still
//! checks what it signed, older ones nothing.

use chrono::{DateTime, Utc};
use orbit_domain::entities::signing_key;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::{Db, Page, PageArgs, apps, db_error, keyset};

/// The version that signs new tokens. An app that never had one gets
/// version 1 here, on its first token: nothing needs creating with the app.
#[orbit_macros::boxed]
pub async fn current(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
) -> DomainResult<signing_key::Model> {
    if let Some(current) = find_current(db.conn(), scope).await? {
        return Ok(current);
    }
    // Two first tokens at once both insert version 1; the unique index
    // keeps one, and both read it back.
    signing_key::Entity::insert(first_version(scope, now))
        .on_conflict(
            OnConflict::columns([signing_key::Column::AppId, signing_key::Column::Version])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await
        .map_err(db_error)?;
    find_current(db.conn(), scope)
        .await?
        .ok_or_else(|| DomainError::internal("an app without a current signing key"))
}

fn first_version(scope: AppScope, now: DateTime<Utc>) -> signing_key::ActiveModel {
    signing_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        version: Set(1),
        created_at: Set(now),
        retired_at: Set(None),
    }
}

async fn find_current<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
) -> DomainResult<Option<signing_key::Model>> {
    signing_key::Entity::find()
        .filter(signing_key::Column::AppId.eq(scope.uuid()))
        .filter(signing_key::Column::RetiredAt.is_null())
        .one(conn)
        .await
        .map_err(db_error)
}

/// The newest two versions, newest first: the current one and the one it
/// replaced, the only ones that check tokens. Empty before the first token.
#[orbit_macros::boxed]
pub async fn newest_two(db: &Db, scope: AppScope) -> DomainResult<Vec<signing_key::Model>> {
    signing_key::Entity::find()
        .filter(signing_key::Column::AppId.eq(scope.uuid()))
        .order_by_desc(signing_key::Column::Version)
        .limit(2)
        .all(db.conn())
        .await
        .map_err(db_error)
}

pub struct Rotation {
    pub current: signing_key::Model,
    pub retired: signing_key::Model,
}

/// Makes a new version current and retires the one before, in one
/// transaction that holds the app's row, so two rotations at once happen
/// one after the other.
#[orbit_macros::boxed]
pub async fn rotate(db: &Db, scope: AppScope, now: DateTime<Utc>) -> DomainResult<Rotation> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    apps::lock(&txn, scope).await?;
    let previous = match find_current(&txn, scope).await? {
        Some(current) => current,
        None => first_version(scope, now)
            .insert(&txn)
            .await
            .map_err(db_error)?,
    };
    let mut retiring: signing_key::ActiveModel = previous.clone().into();
    retiring.retired_at = Set(Some(now));
    let retired = retiring.update(&txn).await.map_err(db_error)?;
    let current = signing_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        version: Set(previous.version + 1),
        created_at: Set(now),
        retired_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(Rotation { current, retired })
}

/// Every version the app has had, newest first.
#[orbit_macros::boxed]
pub async fn list(
    db: &Db,
    scope: AppScope,
    args: PageArgs,
) -> DomainResult<Page<signing_key::Model>> {
    let select = signing_key::Entity::find().filter(signing_key::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(signing_key::Column::AppId),
        signing_key::Column::Id,
        true,
        args,
    )
    .await
}
