//! Emailed login codes and magic links, stored hashed. A code is bound to
//! its app and email (one live code each: a new one replaces the row); a
//! link is found by its token's hash within the app. Both work once.

use chrono::{DateTime, Utc};
use orbit_domain::DomainResult;
use orbit_domain::entities::{login_code, magic_link};
use orbit_domain::ids::AppScope;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use crate::{Db, db_error};

/// Stores a new code for the email, replacing (and so ending) any earlier one.
#[orbit_macros::boxed]
pub async fn replace_code(
    db: &Db,
    scope: AppScope,
    email_normalized: &str,
    code_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> DomainResult<()> {
    use login_code::Column;
    let row = login_code::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        email_normalized: Set(email_normalized.to_owned()),
        code_hash: Set(code_hash),
        attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    };
    // One statement, so two requests at once leave exactly one code.
    login_code::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::AppId, Column::EmailNormalized])
                .update_columns([
                    Column::Id,
                    Column::CodeHash,
                    Column::Attempts,
                    Column::CreatedAt,
                    Column::ExpiresAt,
                    Column::UsedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db.conn())
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Tries the email's code: spends one of its `max_attempts`, then asks
/// `matches` whether the stored hash is the presented code's. True when the
/// code was live and right; it is then used. The attempt is counted before
/// the comparison, so guesses sent at once never get more tries between
/// them than the limit.
pub async fn claim_code(
    db: &Db,
    scope: AppScope,
    email_normalized: &str,
    now: DateTime<Utc>,
    max_attempts: i32,
    matches: impl FnOnce(&str) -> bool,
) -> DomainResult<bool> {
    use login_code::Column;
    let txn = db.conn().begin().await.map_err(db_error)?;
    let counted = login_code::Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::EmailNormalized.eq(email_normalized))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .filter(Column::Attempts.lt(max_attempts))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    if counted.rows_affected == 0 {
        return Ok(false);
    }
    // This transaction holds the row now (Postgres locks it; SQLite has
    // one writer), so the hash read is the one the attempt was counted on.
    let Some(code) = login_code::Entity::find()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::EmailNormalized.eq(email_normalized))
        .one(&txn)
        .await
        .map_err(db_error)?
    else {
        return Ok(false);
    };
    let right = matches(&code.code_hash);
    if right {
        let mut used: login_code::ActiveModel = code.into();
        used.used_at = Set(Some(now));
        used.update(&txn).await.map_err(db_error)?;
    }
    db.commit(txn).await?;
    Ok(right)
}

/// Stores a magic-link token (as its hash). Links of the email that are
/// used or expired go at the same time, so they do not pile up.
#[orbit_macros::boxed]
pub async fn insert_link(
    db: &Db,
    scope: AppScope,
    email_normalized: &str,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> DomainResult<()> {
    use magic_link::Column;
    let txn = db.conn().begin().await.map_err(db_error)?;
    magic_link::Entity::delete_many()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::EmailNormalized.eq(email_normalized))
        .filter(Column::UsedAt.is_not_null().or(Column::ExpiresAt.lte(now)))
        .exec(&txn)
        .await
        .map_err(db_error)?;
    magic_link::ActiveModel {
        id: Set(Uuid::now_v7()),
        app_id: Set(scope.uuid()),
        email_normalized: Set(email_normalized.to_owned()),
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(())
}

/// Uses a magic link: the (normalized) email it was sent to, if the token is
/// of this app, unused and unexpired; it is used from now on.
#[orbit_macros::boxed]
pub async fn claim_link(
    db: &Db,
    scope: AppScope,
    token_hash: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<String>> {
    use magic_link::Column;
    let Some(link) = magic_link::Entity::find()
        .filter(Column::AppId.eq(scope.uuid()))
        .filter(Column::TokenHash.eq(token_hash))
        .one(db.conn())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    if link.used_at.is_some() || link.expires_at <= now {
        return Ok(None);
    }
    // Only one of two clicks at once finds the row still unused.
    let claimed = magic_link::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(link.id))
        .filter(Column::UsedAt.is_null())
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok((claimed.rows_affected == 1).then_some(link.email_normalized))
}
