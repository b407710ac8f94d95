//! An app's API keys: stored hashed, listed without their secret, revoked
//! at once for every request and socket on every process.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::entities::api_key;
use orbit_domain::events::{Event, KeyRevocation};
use orbit_domain::ids::{ApiKeyId, AppScope};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter,
};

use crate::unit_of_work::Change;
use crate::{Db, Page, PageArgs, db_error, keyset};

/// How stale `last_used_at` may get before a request writes it again: a
/// write an hour per key, not one per request.
pub const LAST_USED_PRECISION: Duration = Duration::hours(1);

/// A key to store: everything but the plaintext, which is shown once and never kept.
pub struct NewApiKey {
    pub kind: &'static str,
    pub environment: &'static str,
    pub name: String,
    pub lookup_prefix: String,
    pub secret_hash: String,
}

/// Stores a new key of the app.
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    key: NewApiKey,
) -> DomainResult<api_key::Model> {
    insert(db.conn(), scope, now, key).await
}

/// [`create`] within the caller's transaction.
pub(crate) async fn insert<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    now: DateTime<Utc>,
    key: NewApiKey,
) -> DomainResult<api_key::Model> {
    api_key::ActiveModel {
        id: Set(ApiKeyId::generate().uuid()),
        app_id: Set(scope.uuid()),
        kind: Set(key.kind.to_owned()),
        environment: Set(key.environment.to_owned()),
        name: Set(key.name),
        lookup_prefix: Set(key.lookup_prefix),
        secret_hash: Set(key.secret_hash),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(conn)
    .await
    .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: ApiKeyId) -> DomainResult<Option<api_key::Model>> {
    api_key::Entity::find_by_id(id.uuid())
        .filter(api_key::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Revokes the key: from the commit on, no request is let in with it, and
/// its open sockets close (the `api_key.revoked` event on the app's topic).
/// Revoking it again changes nothing and returns it as it is.
#[orbit_macros::boxed]
pub async fn revoke(
    db: &Db,
    scope: AppScope,
    id: ApiKeyId,
    now: DateTime<Utc>,
) -> DomainResult<api_key::Model> {
    let not_found = || DomainError::not_found("API key").with_field("id");
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let revoked = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id.uuid()))
        .filter(api_key::Column::AppId.eq(scope.uuid()))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(txn)
        .await
        .map_err(db_error)?;
    if revoked.rows_affected > 0 {
        change.emit(Event::ApiKeyRevoked(KeyRevocation { key_id: id }));
    }
    let key = api_key::Entity::find_by_id(id.uuid())
        .filter(api_key::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?
        .ok_or_else(not_found)?;
    change.commit().await?;
    Ok(key)
}

/// The app's keys, revoked ones included, oldest first.
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope, args: PageArgs) -> DomainResult<Page<api_key::Model>> {
    let select = api_key::Entity::find().filter(api_key::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(api_key::Column::AppId),
        api_key::Column::Id,
        false,
        args,
    )
    .await
}

/// Records that `key` was used at `now`, when what is recorded is older
/// than [`LAST_USED_PRECISION`] (the caller read it with the key). The
/// condition is repeated in the statement, so processes racing write once.
#[orbit_macros::boxed]
pub async fn touch(db: &Db, key: &api_key::Model, now: DateTime<Utc>) -> DomainResult<()> {
    let stale_before = now - LAST_USED_PRECISION;
    if key.last_used_at.is_some_and(|at| at >= stale_before) {
        return Ok(());
    }
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(key.id))
        .filter(
            Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(api_key::Column::LastUsedAt.lt(stale_before)),
        )
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(())
}
