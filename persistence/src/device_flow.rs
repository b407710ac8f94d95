//! Device authorizations (RFC 8628), stored by the hashes of their device
//! and user codes, and the wrong user codes users entered. What a poll
//! answers is decided by `orbit_auth::DeviceGrant`; this module keeps the
//! state and makes the one-time steps (deciding, exchanging) atomic.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::DomainResult;
use orbit_domain::entities::{device_authorization, device_code_failure, user};
use orbit_domain::ids::{AppScope, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use crate::error::is_unique_violation;
use crate::{Db, db_error};

/// Expired authorizations are kept this long (answering `expired_token`),
/// then deleted when the app starts another.
const KEEP_EXPIRED: Duration = Duration::days(1);

pub struct NewDeviceAuthorization {
    pub client_hash: String,
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub scope: Option<String>,
    pub interval_secs: i32,
    pub expires_at: DateTime<Utc>,
}

/// Stores a pending authorization. False when its user code is taken by
/// another (the caller makes a new one and tries again).
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    new: NewDeviceAuthorization,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    use device_authorization::Column;
    device_authorization::Entity::delete_many()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::ExpiresAt.lte(now - KEEP_EXPIRED))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    let inserted = device_authorization::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        client_hash: Set(new.client_hash),
        device_code_hash: Set(new.device_code_hash),
        user_code_hash: Set(new.user_code_hash),
        scope: Set(new.scope),
        status: Set("pending".to_owned()),
        user_id: Set(None),
        interval_secs: Set(new.interval_secs),
        last_polled_at: Set(None),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        decided_at: Set(None),
        exchanged_at: Set(None),
    }
    .insert(db.conn())
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(db_error(error)),
    }
}

/// The authorization of a device code (by its hash) in the app.
#[orbit_macros::boxed]
pub async fn find_by_device_code(
    db: &Db,
    scope: AppScope,
    device_code_hash: &str,
) -> DomainResult<Option<device_authorization::Model>> {
    use device_authorization::Column;
    device_authorization::Entity::find()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::DeviceCodeHash.eq(device_code_hash))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Remembers a poll at `now`, and the interval the device must keep from now on.
#[orbit_macros::boxed]
pub async fn record_poll(
    db: &Db,
    scope: AppScope,
    id: Uuid,
    now: DateTime<Utc>,
    interval_secs: i32,
) -> DomainResult<()> {
    use device_authorization::Column;
    device_authorization::Entity::update_many()
        .col_expr(Column::LastPolledAt, Expr::value(now))
        .col_expr(Column::IntervalSecs, Expr::value(interval_secs))
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::Id.eq(id))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Spends an approved authorization: true for exactly one of the polls
/// that try at once; its tokens may then be issued.
#[orbit_macros::boxed]
pub async fn claim(db: &Db, scope: AppScope, id: Uuid, now: DateTime<Utc>) -> DomainResult<bool> {
    use device_authorization::Column;
    let claimed = device_authorization::Entity::update_many()
        .col_expr(Column::Status, Expr::value("exchanged"))
        .col_expr(Column::ExchangedAt, Expr::value(now))
        .col_expr(Column::LastPolledAt, Expr::value(now))
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq("approved"))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(claimed.rows_affected == 1)
}

/// How many wrong user codes a user may enter within a window.
#[derive(Debug, Clone, Copy)]
pub struct GuessLimit {
    pub max_failures: u64,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The pending authorization is now approved (or denied) by the user.
    Decided,
    /// No pending, live authorization of the app has this code; counted as a failure.
    NotFound,
    /// Too many wrong codes lately; nothing was looked up.
    TooManyFailures,
}

/// Approves or denies the app's pending authorization whose user code has
/// `user_code_hash` (`None`: what the user typed cannot be a code), as
/// `user`. A miss counts against the user's [`GuessLimit`]; once it is
/// reached, nothing is looked up until the window moves on. The user's row
/// is locked first (Postgres; SQLite has one writer), so guesses sent at
/// once are counted one after another.
#[orbit_macros::boxed]
pub async fn decide(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
    user_code_hash: Option<&str>,
    approve: bool,
    now: DateTime<Utc>,
    limit: GuessLimit,
) -> DomainResult<Decision> {
    use device_authorization::Column;
    let txn = db.conn().begin().await.map_err(db_error)?;
    user::Entity::find_by_id(user_id.uuid())
        .filter(user::Column::AppId.eq(scope.uuid()))
        .lock_exclusive()
        .one(&txn)
        .await
        .map_err(db_error)?;
    let since = now - limit.window;
    device_code_failure::Entity::delete_many()
        .filter(device_code_failure::Column::UserId.eq(user_id.uuid()))
        .filter(device_code_failure::Column::FailedAt.lte(since))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    let failures = device_code_failure::Entity::find()
        .filter(device_code_failure::Column::AppId.eq(scope.uuid()))
        .filter(device_code_failure::Column::UserId.eq(user_id.uuid()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if failures >= limit.max_failures {
        return Ok(Decision::TooManyFailures);
    }
    let decided = match user_code_hash {
        Some(hash) => {
            let status = if approve { "approved" } else { "denied" };
            device_authorization::Entity::update_many()
                .col_expr(Column::Status, Expr::value(status))
                .col_expr(Column::UserId, Expr::value(user_id.uuid()))
                .col_expr(Column::DecidedAt, Expr::value(now))
                .filter(Column::AppId.eq(scope.uuid()))
                .filter(Column::UserCodeHash.eq(hash))
                .filter(Column::Status.eq("pending"))
                .filter(Column::ExpiresAt.gt(now))
                .exec(&txn)
                .await
                .map_err(db_error)?
                .rows_affected
                == 1
        }
        None => false,
    };
    if !decided {
        device_code_failure::ActiveModel {
            id: Set(Uuid::now_v7()),
            app_id: Set(scope.uuid()),
            user_id: Set(user_id.uuid()),
            failed_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(db_error)?;
    }
    db.commit(txn).await?;
    Ok(if decided {
        Decision::Decided
    } else {
        Decision::NotFound
    })
}
