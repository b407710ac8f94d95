//! Work items claimed with a lease, so that with several `orbit` processes
//! each item is worked on by one of them at a time, and an item whose process
//! died is taken over once its lease ends. Agent replies, routine runs and
//! webhook deliveries are such items: their tables carry the columns below.
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `id` | uuid, primary key | |
//! | `status` | text | [`QUEUED`] (waiting for `due_at`), [`RUNNING`] (leased), or a terminal status of the table's own |
//! | `due_at` | timestamp | when a queued item may be claimed |
//! | `lease_owner` | text, null | the process that holds the lease |
//! | `lease_until` | timestamp, null | when the lease ends unless renewed |
//! | `attempts` | integer | claims so far (a retried or taken-over item counts again) |
//!
//! with an index on `(status, due_at)`. Exactly once comes from [`finish`]:
//! the result of the work is written in the same transaction that ends the
//! lease, and only while the process still holds it, so a process that lost
//! its lease (it was too slow, another took over) writes nothing.

use chrono::{DateTime, Duration, Utc};
use orbit_domain::DomainResult;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, LockBehavior, LockType, Order, Query, SimpleExpr,
};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use uuid::Uuid;

use crate::queues::Queue;
use crate::{Db, db_error};

/// Waiting for its `due_at`.
pub const QUEUED: &str = "queued";
/// Held by a process until `lease_until`.
pub const RUNNING: &str = "running";

fn col(name: &'static str) -> Expr {
    Expr::col(Alias::new(name))
}

/// Claims up to `limit` items of `table` that are due at `now` (queued and
/// due, or running with an ended lease), oldest due first, for `owner` until
/// `now + lease`. Returns their ids; each claim adds one to `attempts`.
/// Postgres skips rows another process is claiming at the same moment.
///
/// The candidates are read (and on Postgres locked) before they are
/// updated, in one transaction, so that a claim knows which items it took
/// over from a lease that ran out: those count in
/// `orbit_lease_takeovers_total`.
#[orbit_macros::boxed]
pub async fn claim(
    db: &Db,
    table: &'static str,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> DomainResult<Vec<Uuid>> {
    let due = col("status")
        .eq(QUEUED)
        .and(col("due_at").lte(now))
        .or(col("status").eq(RUNNING).and(col("lease_until").lte(now)));
    let mut candidates = Query::select();
    candidates
        .column(Alias::new("id"))
        .column(Alias::new("status"))
        .from(Alias::new(table))
        .and_where(due)
        .order_by(Alias::new("due_at"), Order::Asc)
        .limit(limit);
    if db.conn().get_database_backend() == DbBackend::Postgres {
        candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let txn = db.conn().begin().await.map_err(db_error)?;
    let rows = txn.query_all(&candidates).await.map_err(db_error)?;
    if rows.is_empty() {
        txn.commit().await.map_err(db_error)?;
        return Ok(Vec::new());
    }
    let mut ids = Vec::with_capacity(rows.len());
    let mut takeovers = 0u64;
    for row in &rows {
        ids.push(row.try_get::<Uuid>("", "id").map_err(db_error)?);
        if row.try_get::<String>("", "status").map_err(db_error)? == RUNNING {
            takeovers += 1;
        }
    }
    let claim = Query::update()
        .table(Alias::new(table))
        .value(Alias::new("status"), RUNNING)
        .value(Alias::new("lease_owner"), owner)
        .value(Alias::new("lease_until"), now + lease)
        .value(
            Alias::new("attempts"),
            SimpleExpr::from(col("attempts").add(1)),
        )
        .and_where(col("id").is_in(ids.iter().copied()))
        .to_owned();
    txn.execute(&claim).await.map_err(db_error)?;
    txn.commit().await.map_err(db_error)?;
    if takeovers > 0 {
        // A queue is named after its table.
        metrics::counter!("orbit_lease_takeovers_total", "queue" => table.to_owned())
            .increment(takeovers);
    }
    Ok(ids)
}

/// Items of one queue in one non-terminal status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub queue: &'static str,
    pub status: &'static str,
    pub count: i64,
}

/// Queued and running items of every queue, zero included (a gauge that
/// disappears when its queue empties would keep its last value on graphs).
#[orbit_macros::boxed]
pub async fn depths(db: &Db) -> DomainResult<Vec<Depth>> {
    let mut depths = Vec::with_capacity(Queue::ALL.len() * 2);
    for queue in Queue::ALL {
        // A queue is named after its table.
        let queue = queue.as_str();
        for status in [QUEUED, RUNNING] {
            let count = Query::select()
                .expr_as(col("id").count(), Alias::new("n"))
                .from(Alias::new(queue))
                .and_where(col("status").eq(status))
                .to_owned();
            let row = db.conn().query_one(&count).await.map_err(db_error)?;
            let count = match row {
                Some(row) => row.try_get::<i64>("", "n").map_err(db_error)?,
                None => 0,
            };
            depths.push(Depth {
                queue,
                status,
                count,
            });
        }
    }
    Ok(depths)
}

/// Held by `owner` (and still running): the condition of every change a
/// lease holder makes.
fn held_by(id: Uuid, owner: &str) -> SimpleExpr {
    col("id")
        .eq(id)
        .and(col("status").eq(RUNNING))
        .and(col("lease_owner").eq(owner))
}

async fn update_held<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    id: Uuid,
    owner: &str,
    values: Vec<(&'static str, SimpleExpr)>,
) -> DomainResult<bool> {
    let mut update = Query::update();
    update
        .table(Alias::new(table))
        .and_where(held_by(id, owner));
    for (column, value) in values {
        update.value(Alias::new(column), value);
    }
    let result = conn.execute(&update.to_owned()).await.map_err(db_error)?;
    Ok(result.rows_affected() == 1)
}

/// Extends `owner`'s lease on a long piece of work to `until`. `false` when
/// the lease was lost: another process has taken the item over, so this one
/// must stop and write nothing.
#[orbit_macros::boxed]
pub async fn renew(
    db: &Db,
    table: &'static str,
    id: Uuid,
    owner: &str,
    until: DateTime<Utc>,
) -> DomainResult<bool> {
    renew_in(db.conn(), table, id, owner, until).await
}

/// [`renew`] inside a transaction: what the transaction writes about the
/// item then stands only if `owner` still holds it (the row stays locked
/// until the commit, so no one takes it over meanwhile).
pub async fn renew_in<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    id: Uuid,
    owner: &str,
    until: DateTime<Utc>,
) -> DomainResult<bool> {
    update_held(conn, table, id, owner, vec![("lease_until", until.into())]).await
}

/// Ends `owner`'s lease with a terminal `status`, inside the transaction
/// that stores the work's result. `false` when the lease was lost: roll the
/// transaction back, the result belongs to whoever holds the item now.
pub async fn finish<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    id: Uuid,
    owner: &str,
    status: &str,
) -> DomainResult<bool> {
    finish_with(conn, table, id, owner, status, Vec::new()).await
}

/// [`finish`], setting the item's own result columns (`also`) in the same
/// statement. One statement matters in Postgres: a second update of a row
/// this transaction already updated checks the row's foreign keys again,
/// and would wait on (and deadlock with) a deletion of the parent row.
pub async fn finish_with<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    id: Uuid,
    owner: &str,
    status: &str,
    also: Vec<(&'static str, SimpleExpr)>,
) -> DomainResult<bool> {
    let nothing = SimpleExpr::Keyword(sea_orm::sea_query::Keyword::Null);
    let mut values = vec![
        ("status", status.into()),
        ("lease_owner", nothing.clone()),
        ("lease_until", nothing),
    ];
    values.extend(also);
    update_held(conn, table, id, owner, values).await
}

/// Puts an item `owner` holds back in the queue, due at `due_at` (a retry
/// after a failure, with its backoff). `false` when the lease was lost.
pub async fn requeue<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    id: Uuid,
    owner: &str,
    due_at: DateTime<Utc>,
) -> DomainResult<bool> {
    let nothing = SimpleExpr::Keyword(sea_orm::sea_query::Keyword::Null);
    update_held(
        conn,
        table,
        id,
        owner,
        vec![
            ("status", QUEUED.into()),
            ("due_at", due_at.into()),
            ("lease_owner", nothing.clone()),
            ("lease_until", nothing),
        ],
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const TABLE: &str = "jobs";

    async fn db_with_jobs(due: &[DateTime<Utc>]) -> (Db, Vec<Uuid>) {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        db.conn()
            .execute_unprepared(
                "CREATE TABLE jobs (id uuid_text PRIMARY KEY, status text NOT NULL, \
                 due_at timestamp_with_timezone_text NOT NULL, lease_owner text, \
                 lease_until timestamp_with_timezone_text, attempts integer NOT NULL DEFAULT 0)",
            )
            .await
            .unwrap();
        let mut ids = Vec::new();
        for at in due {
            let id = Uuid::now_v7();
            let insert = Query::insert()
                .into_table(Alias::new(TABLE))
                .columns([Alias::new("id"), Alias::new("status"), Alias::new("due_at")])
                .values_panic([id.into(), QUEUED.into(), (*at).into()])
                .to_owned();
            db.conn().execute(&insert).await.unwrap();
            ids.push(id);
        }
        (db, ids)
    }

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, minute, 0).unwrap()
    }

    #[tokio::test]
    async fn claims_what_is_due_once_until_the_lease_ends() {
        let (db, ids) = db_with_jobs(&[at(0), at(5)]).await;
        let lease = Duration::minutes(1);
        let first = claim(&db, TABLE, "a", at(1), lease, 10).await.unwrap();
        assert_eq!(first, vec![ids[0]], "only the due item");
        assert!(
            claim(&db, TABLE, "b", at(1), lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // The lease ends: another process takes the item over.
        let taken = claim(&db, TABLE, "b", at(2), lease, 10).await.unwrap();
        assert_eq!(taken, vec![ids[0]]);
        assert!(!finish(db.conn(), TABLE, ids[0], "a", "done").await.unwrap());
        assert!(!renew(&db, TABLE, ids[0], "a", at(9)).await.unwrap());
        assert!(finish(db.conn(), TABLE, ids[0], "b", "done").await.unwrap());
        assert!(
            claim(&db, TABLE, "c", at(4), lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn requeued_items_wait_for_their_new_time() {
        let (db, ids) = db_with_jobs(&[at(0)]).await;
        let lease = Duration::minutes(1);
        claim(&db, TABLE, "a", at(0), lease, 1).await.unwrap();
        assert!(
            requeue(db.conn(), TABLE, ids[0], "a", at(10))
                .await
                .unwrap()
        );
        assert!(
            claim(&db, TABLE, "a", at(9), lease, 1)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(claim(&db, TABLE, "a", at(10), lease, 1).await.unwrap(), ids);
        let attempts: i64 = db
            .conn()
            .query_one(
                &Query::select()
                    .column(Alias::new("attempts"))
                    .from(Alias::new(TABLE))
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get("", "attempts")
            .unwrap();
        assert_eq!(attempts, 2);
    }
}
