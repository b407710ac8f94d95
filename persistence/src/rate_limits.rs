//! Fixed-window counters shared by every server process: one row per key
//! and window (`rate_limits`). A hit is one upsert, so two processes
//! counting at once never lose a hit; a key's older windows are deleted
//! when it is hit, so rows do not pile up.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::{Db, db_error};

const TABLE: &str = "rate_limits";

/// The start of the fixed window of length `window` that holds `now`.
pub fn window_start(window: Duration, now: DateTime<Utc>) -> DateTime<Utc> {
    let length = Ord::max(window.num_seconds(), 1);
    let start = now.timestamp().div_euclid(length) * length;
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

/// Seconds from `now` until the window holding it ends (at least 1).
pub fn retry_after(window: Duration, now: DateTime<Utc>) -> i64 {
    let end = window_start(window, now) + window;
    Ord::max((end - now).num_seconds(), 1)
}

/// Counts one hit of `key` in the window holding `now`: the count after it.
#[orbit_macros::boxed]
pub async fn hit(db: &Db, key: &str, window: Duration, now: DateTime<Utc>) -> DomainResult<i64> {
    let start = window_start(window, now);
    let upsert = Query::insert()
        .into_table(TABLE)
        .columns(["key", "window_start", "count"])
        .values_panic([key.into(), start.into(), 1i64.into()])
        .on_conflict(
            OnConflict::columns(["key", "window_start"])
                .value("count", Expr::col((TABLE, "count")).add(1i64))
                .to_owned(),
        )
        .returning_col("count")
        .to_owned();
    let row = db
        .conn()
        .query_one(&upsert)
        .await
        .map_err(db_error)?
        .ok_or_else(|| DomainError::internal("rate limit upsert returned no row"))?;
    let count: i64 = row.try_get("", "count").map_err(db_error)?;
    // Earlier windows of the key no longer count.
    let old = Query::delete()
        .from_table(TABLE)
        .and_where(Expr::col("key").eq(key))
        .and_where(Expr::col("window_start").lt(start))
        .to_owned();
    db.conn().execute(&old).await.map_err(db_error)?;
    Ok(count)
}

/// The hits of `key` in the window holding `now` so far.
#[orbit_macros::boxed]
pub async fn count(db: &Db, key: &str, window: Duration, now: DateTime<Utc>) -> DomainResult<i64> {
    let start = window_start(window, now);
    let select = Query::select()
        .column("count")
        .from(TABLE)
        .and_where(Expr::col("key").eq(key))
        .and_where(Expr::col("window_start").eq(start))
        .to_owned();
    match db.conn().query_one(&select).await.map_err(db_error)? {
        Some(row) => row.try_get::<i64>("", "count").map_err(db_error),
        None => Ok(0),
    }
}
