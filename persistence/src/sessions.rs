//! Sessions: each is a family of refresh tokens. A token is exchanged once;
//! presenting a spent one means it was stolen or replayed, so the whole
//! family is revoked.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::entities::{refresh_token, session};
use orbit_domain::events::{Event, SessionRevocation};
use orbit_domain::ids::{AppScope, SessionId, UserId};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use crate::keyset::{self, Page, PageArgs};
use crate::unit_of_work::Change;
use crate::{Db, db_error};

/// Announces a revocation on the user's topic so that open sockets of the
/// session close at once, on every process.
fn revoked_event(user_id: UserId, only: Option<SessionId>) -> Event {
    Event::SessionRevoked(SessionRevocation {
        user_id,
        session_id: only,
    })
}

/// Starts a session with its first refresh token (given as a hash).
#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
    now: DateTime<Utc>,
    lifetime: Duration,
    refresh_token_hash: String,
) -> DomainResult<session::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let session = session::ActiveModel {
        id: Set(SessionId::generate().uuid()),
        app_id: Set(scope.uuid()),
        user_id: Set(user_id.uuid()),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(now + lifetime),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    insert_token(&txn, &session, now, refresh_token_hash).await?;
    db.commit(txn).await?;
    Ok(session)
}

async fn insert_token(
    txn: &sea_orm::DatabaseTransaction,
    session: &session::Model,
    now: DateTime<Utc>,
    token_hash: String,
) -> DomainResult<()> {
    refresh_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        app_id: Set(session.app_id),
        session_id: Set(session.id),
        token_hash: Set(token_hash),
        created_at: Set(now),
        // A refresh token lives as long as its session.
        expires_at: Set(session.expires_at),
        spent_at: Set(None),
    }
    .insert(txn)
    .await
    .map_err(db_error)?;
    Ok(())
}

#[derive(Debug)]
pub enum Rotation {
    Rotated(session::Model),
    /// The token was already spent: its session is now revoked.
    ReuseDetected,
    /// Unknown, expired, of another app, or its session ended.
    Invalid,
}

/// Exchanges a refresh token for a new one in the same session.
#[orbit_macros::boxed]
pub async fn rotate(
    db: &Db,
    scope: AppScope,
    presented_hash: &str,
    replacement_hash: String,
    now: DateTime<Utc>,
) -> DomainResult<Rotation> {
    let change = Change::begin(db, scope, now).await?;
    let txn = change.txn();
    let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(presented_hash))
        .filter(refresh_token::Column::AppId.eq(scope.uuid()))
        .one(txn)
        .await
        .map_err(db_error)?
    else {
        return Ok(Rotation::Invalid);
    };
    let Some(session) = session::Entity::find_by_id(token.session_id)
        .one(txn)
        .await
        .map_err(db_error)?
    else {
        return Ok(Rotation::Invalid);
    };
    if session.revoked_at.is_some() || session.expires_at <= now || token.expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    // Mark spent only if nobody else did first: the row count tells a
    // concurrent double exchange apart from ours.
    let spent = refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::SpentAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::SpentAt.is_null())
        .exec(txn)
        .await
        .map_err(db_error)?;
    if spent.rows_affected == 0 {
        let event = revoked_event(UserId(session.user_id), Some(SessionId(session.id)));
        let mut revoked: session::ActiveModel = session.into();
        revoked.revoked_at = Set(Some(now));
        revoked.update(txn).await.map_err(db_error)?;
        change.emit(event);
        change.commit().await?;
        return Ok(Rotation::ReuseDetected);
    }
    let mut touched: session::ActiveModel = session.into();
    touched.last_used_at = Set(now);
    let session = touched.update(txn).await.map_err(db_error)?;
    insert_token(txn, &session, now, replacement_hash).await?;
    change.commit().await?;
    Ok(Rotation::Rotated(session))
}

/// The session if it is still live: not revoked, not expired, of this app and user.
#[orbit_macros::boxed]
pub async fn find_live(
    db: &Db,
    scope: AppScope,
    id: SessionId,
    user_id: UserId,
    now: DateTime<Utc>,
) -> DomainResult<Option<session::Model>> {
    let found = session::Entity::find_by_id(id.uuid())
        .filter(session::Column::AppId.eq(scope.uuid()))
        .filter(session::Column::UserId.eq(user_id.uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(found.filter(|session| session.expires_at > now))
}

/// A user's live sessions, oldest first.
#[orbit_macros::boxed]
pub async fn list_live(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
    now: DateTime<Utc>,
    args: PageArgs,
) -> DomainResult<Page<session::Model>> {
    let select = session::Entity::find()
        .filter(session::Column::AppId.eq(scope.uuid()))
        .filter(session::Column::UserId.eq(user_id.uuid()))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now));
    keyset::page(
        db.conn(),
        select,
        Some(session::Column::UserId),
        session::Column::Id,
        false,
        args,
    )
    .await
}

/// Revokes one session, or every live session of its user. Returns how many ended.
#[orbit_macros::boxed]
pub async fn revoke(
    db: &Db,
    scope: AppScope,
    user_id: UserId,
    only: Option<SessionId>,
    now: DateTime<Utc>,
) -> DomainResult<u64> {
    let change = Change::begin(db, scope, now).await?;
    let revoked = revoke_within(&change, user_id, only).await?;
    change.commit().await?;
    Ok(revoked)
}

/// [`revoke`] within the caller's transaction, with its announcement.
pub(crate) async fn revoke_within(
    change: &Change<'_>,
    user_id: UserId,
    only: Option<SessionId>,
) -> DomainResult<u64> {
    let (scope, now) = (change.scope(), change.now());
    let mut update = session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(session::Column::AppId.eq(scope.uuid()))
        .filter(session::Column::UserId.eq(user_id.uuid()))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(id) = only {
        update = update.filter(session::Column::Id.eq(id.uuid()));
    }
    let result = update.exec(change.txn()).await.map_err(db_error)?;
    if result.rows_affected > 0 {
        change.emit(revoked_event(user_id, only));
    }
    Ok(result.rows_affected)
}

pub fn invalid_refresh_token() -> DomainError {
    DomainError::unauthenticated("the refresh token is invalid or expired")
        .with_field("refreshToken")
}
