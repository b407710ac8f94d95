//! Postgres connections Orbit keeps itself, for the statements that most
//! of the traffic is made of: a change made in one statement (a sent
//! message) and the relay's delete of what it published.
//!
//! sqlx pings every pooled connection on its way back to the pool (a lone
//! `Sync` and its `ReadyForQuery`, in a task of its own), whatever the
//! connection just did, and sqlx 0.9 has no setting to skip it. For a
//! statement that commits on its own that ping is a second round trip, one
//! Postgres answers on the same cores: 9 % of the server's CPU in a send
//! (docs/benchmarks.md). These connections are taken out of the pool
//! (`detach`, so the pool may open others in their place) and kept here
//! between statements:
//!
//! - on checkout the rule of `connection_trust` applies, as in the pool: a
//!   connection idle for a second or more, or since this process last saw
//!   the database out of reach, is pinged first, and closed if the ping
//!   fails;
//! - a connection whose statement finished goes back without a ping, as
//!   does one whose statement the database refused (a unique violation:
//!   sqlx has read up to the `ReadyForQuery` that follows the error);
//! - a connection whose statement was cut short (its request dropped) or
//!   that broke is closed, never reused: what it would read next is not
//!   known;
//! - one older than [`MOST_LIFETIME`] is closed when it comes back, as the
//!   pool closes its own.
//!
//! At most as many as the settings say (`PoolSettings::kept_connections`,
//! 8 by default) are open at once, besides the pool's own. When all are
//! busy the statement runs on the pool as before. A new one is taken from
//! the pool, with its timeout and checkout rule, so a failure reads exactly
//! as it did (`UNAVAILABLE` while the database is out of reach).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgConnection, PgPool};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement, Values,
};
use sea_query_sqlx::SqlxValues;

use crate::connection_trust;
use crate::error::is_unavailable;

/// A condition that makes the statement it is part of commit without
/// waiting for its WAL to reach the disk, for a statement whose loss in a
/// crash does no harm. An uncorrelated scalar subquery runs once, before
/// any row is read; its setting is the statement's own transaction's and
/// ends with it, so the kept connection's next statement commits as usual.
pub(crate) const COMMIT_WITHOUT_WAITING_FOR_THE_DISK: &str =
    "(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL";

/// The pool's own default: a connection is replaced after this long.
pub(crate) const MOST_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Runs statements on kept connections, else on `pool_conn`'s pool.
pub(crate) struct KeptConnections {
    pool_conn: DatabaseConnection,
    pool: PgPool,
    idle: Mutex<Vec<Idle>>,
    /// Kept connections open, idle or in use.
    open: AtomicUsize,
    /// The most open at once; beyond it the pool serves.
    most: usize,
}

impl std::fmt::Debug for KeptConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptConnections")
            .field("open", &self.open.load(Ordering::Relaxed))
            .field("most", &self.most)
            .finish_non_exhaustive()
    }
}

struct Idle {
    conn: PgConnection,
    opened_at: Instant,
    answered_at: Instant,
}

impl KeptConnections {
    /// At most `most` kept connections beside `pool_conn`'s pool (none:
    /// every statement runs on the pool); `None` unless that is a Postgres
    /// pool.
    pub(crate) fn for_postgres(pool_conn: &DatabaseConnection, most: usize) -> Option<Self> {
        if pool_conn.get_database_backend() != DbBackend::Postgres {
            return None;
        }
        Some(Self {
            pool_conn: pool_conn.clone(),
            pool: pool_conn.get_postgres_connection_pool().clone(),
            idle: Mutex::default(),
            open: AtomicUsize::new(0),
            most,
        })
    }

    /// Open (idle or in use), of them idle, and the most that may be open.
    pub(crate) fn status(&self) -> (usize, usize, usize) {
        let idle = lock(&self.idle).len();
        (self.open.load(Ordering::Relaxed), idle, self.most)
    }

    /// Opens kept connections, idle, until as many are open as may be: the
    /// first writes of a starting process then find one ready instead of
    /// each waiting for a connection to open (docs/benchmarks.md, "The tail
    /// explained"). One at a time, so a starting process does not crowd a
    /// database others use. Stops at the first the pool cannot give: the
    /// writes open their own as before.
    pub(crate) async fn open_ahead(&self) -> Result<usize, DbErr> {
        let mut opened = 0;
        while let Some(fresh) = self
            .open_another()
            .await
            .map_err(|error| DbErr::Conn(RuntimeErr::SqlxError(error.into())))?
        {
            fresh.give_back();
            opened += 1;
        }
        Ok(opened)
    }

    /// A kept connection ready for a statement, or `None` when the pool is
    /// to run it (all kept connections busy). A connection the pool could
    /// not give is the statement's error at once: falling back to the pool
    /// would wait for it a second time.
    async fn checkout(&self) -> Result<Option<InUse<'_>>, sqlx::Error> {
        loop {
            let Some(idle) = lock(&self.idle).pop() else {
                break;
            };
            let mut in_use = InUse {
                kept: self,
                conn: Some(idle.conn),
                opened_at: idle.opened_at,
                kept_idle: false,
            };
            if !connection_trust::needs_ping(idle.answered_at.elapsed()) {
                return Ok(Some(in_use));
            }
            if in_use.conn().ping().await.is_ok() {
                return Ok(Some(in_use));
            }
            // Closed as `in_use` drops; try the next one.
        }
        self.open_another().await
    }

    /// A connection newly taken from the pool into one of the places, or
    /// `None` when every place is taken.
    async fn open_another(&self) -> Result<Option<InUse<'_>>, sqlx::Error> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.most {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Ok(None);
        }
        // From here `in_use` owns the slot reserved above.
        let mut in_use = InUse {
            kept: self,
            conn: None,
            opened_at: Instant::now(),
            kept_idle: false,
        };
        // The pool's acquire applies its timeout and its checkout rule.
        let pooled = self.pool.acquire().await?;
        in_use.conn = Some(pooled.detach());
        Ok(Some(in_use))
    }
}

/// A kept connection in use, holding one of the places.
/// Dropped without [`InUse::give_back`] (the statement cut short, or failed
/// in a way that leaves the connection in doubt), the connection is closed
/// and the place freed.
struct InUse<'a> {
    kept: &'a KeptConnections,
    conn: Option<PgConnection>,
    opened_at: Instant,
    /// Given back: the place is the idle connection's now.
    kept_idle: bool,
}

impl InUse<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .expect("a connection in use until given back or dropped")
    }

    /// Back to the idle connections, without a ping: its statement ended
    /// and the server answered it just now.
    fn give_back(mut self) {
        if self.opened_at.elapsed() >= MOST_LIFETIME {
            return;
        }
        if let Some(conn) = self.conn.take() {
            lock(&self.kept.idle).push(Idle {
                conn,
                opened_at: self.opened_at,
                answered_at: Instant::now(),
            });
            self.kept_idle = true;
        }
    }

    /// Gives the connection back after `result`, unless the error leaves it
    /// in doubt.
    fn settle<T>(
        self,
        result: Result<T, sqlx::Error>,
        to_db_err: fn(sqlx::Error) -> DbErr,
    ) -> Result<T, DbErr> {
        match result {
            Ok(value) => {
                self.give_back();
                Ok(value)
            }
            Err(error) => {
                let refused_by_database = matches!(error, sqlx::Error::Database(_));
                let error = to_db_err(error);
                if refused_by_database && !is_unavailable(&error) {
                    self.give_back();
                }
                Err(error)
            }
        }
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        if !self.kept_idle {
            // Closed as `conn` drops, or never had.
            self.kept.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn query_err(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

fn exec_err(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(error.into()))
}

/// `statement` as sqlx runs it, with its values bound.
fn sqlx_query(statement: Statement) -> sqlx::query::Query<'static, sqlx::Postgres, SqlxValues> {
    let values = statement.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), SqlxValues(values))
}

#[async_trait::async_trait]
impl ConnectionTrait for KeptConnections {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        let mut in_use = match self.checkout().await {
            Ok(Some(in_use)) => in_use,
            Ok(None) => return self.pool_conn.execute_raw(statement).await,
            Err(error) => return Err(exec_err(error)),
        };
        let result = sqlx_query(statement).execute(in_use.conn()).await;
        in_use.settle(result, exec_err).map(ExecResult::from)
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.pool_conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        let mut in_use = match self.checkout().await {
            Ok(Some(in_use)) => in_use,
            Ok(None) => return self.pool_conn.query_one_raw(statement).await,
            Err(error) => return Err(query_err(error)),
        };
        let result = sqlx_query(statement).fetch_optional(in_use.conn()).await;
        in_use
            .settle(result, query_err)
            .map(|row| row.map(QueryResult::from))
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let mut in_use = match self.checkout().await {
            Ok(Some(in_use)) => in_use,
            Ok(None) => return self.pool_conn.query_all_raw(statement).await,
            Err(error) => return Err(query_err(error)),
        };
        let result = sqlx_query(statement).fetch_all(in_use.conn()).await;
        in_use
            .settle(result, query_err)
            .map(|rows| rows.into_iter().map(QueryResult::from).collect())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    //! On the Postgres named by `TEST_DATABASE_URL` (skipped without it);
    //! the statements touch no table.

    use std::time::Duration;

    use sea_orm::{ConnectionTrait, Database, Statement};

    use super::*;

    const MOST: usize = 4;

    async fn kept() -> Option<KeptConnections> {
        kept_at_most(MOST).await
    }

    async fn kept_at_most(most: usize) -> Option<KeptConnections> {
        let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
            eprintln!("kept connections are Postgres's: set TEST_DATABASE_URL");
            return None;
        };
        let conn = Database::connect(url).await.expect("connected");
        Some(KeptConnections::for_postgres(&conn, most).expect("a Postgres pool"))
    }

    fn sql(text: &str) -> Statement {
        Statement::from_string(DbBackend::Postgres, text)
    }

    async fn backend_pid(kept: &KeptConnections) -> i32 {
        let row = kept
            .query_one_raw(sql("SELECT pg_backend_pid() AS pid"))
            .await
            .expect("answered")
            .expect("a row");
        row.try_get("", "pid").expect("a pid")
    }

    fn idle(kept: &KeptConnections) -> usize {
        lock(&kept.idle).len()
    }

    #[tokio::test]
    async fn a_commit_that_does_not_wait_for_the_disk_leaves_the_next_one_waiting() {
        let Some(kept) = kept_at_most(1).await else {
            return;
        };
        let setting_now = |condition: &str| {
            sql(&format!(
                "SELECT current_setting('synchronous_commit') AS setting, pg_backend_pid() AS pid \
                 FROM (SELECT 1) AS one WHERE {condition}"
            ))
        };
        let row = kept
            .query_one_raw(setting_now(COMMIT_WITHOUT_WAITING_FOR_THE_DISK))
            .await
            .expect("answered")
            .expect("a row");
        let during: String = row.try_get("", "setting").expect("a setting");
        let pid: i32 = row.try_get("", "pid").expect("a pid");
        assert_eq!(during, "off", "the statement's own commit does not wait");
        let row = kept
            .query_one_raw(setting_now("true"))
            .await
            .expect("answered")
            .expect("a row");
        let after: String = row.try_get("", "setting").expect("a setting");
        assert_eq!(
            row.try_get::<i32>("", "pid").expect("a pid"),
            pid,
            "the same connection"
        );
        assert_eq!(
            after, "on",
            "the next statement on the connection waits again"
        );
    }

    #[tokio::test]
    async fn a_connection_is_kept_between_statements() {
        let Some(kept) = kept().await else { return };
        let first = backend_pid(&kept).await;
        assert_eq!(backend_pid(&kept).await, first, "the same connection");
        assert_eq!(kept.open.load(Ordering::Acquire), 1);
        assert_eq!(idle(&kept), 1);
    }

    #[tokio::test]
    async fn a_statement_cut_short_closes_its_connection() {
        let Some(kept) = kept().await else { return };
        let first = backend_pid(&kept).await;
        let cut = tokio::time::timeout(
            Duration::from_millis(100),
            kept.query_all_raw(sql("SELECT pg_sleep(2)")),
        )
        .await;
        assert!(cut.is_err(), "the statement was cut short");
        assert_eq!(kept.open.load(Ordering::Acquire), 0, "closed, not kept");
        // The next statement reads its own answer, on another connection.
        assert_ne!(backend_pid(&kept).await, first);
        assert_eq!(kept.open.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn a_statement_the_database_refuses_keeps_its_connection() {
        let Some(kept) = kept().await else { return };
        let first = backend_pid(&kept).await;
        let refused = kept.query_all_raw(sql("SELECT 1 / 0")).await;
        assert!(refused.is_err(), "division by zero");
        assert_eq!(backend_pid(&kept).await, first, "kept, and ready again");
    }

    #[tokio::test]
    async fn with_none_kept_the_pool_serves_every_statement() {
        let Some(kept) = kept_at_most(0).await else {
            return;
        };
        backend_pid(&kept).await;
        backend_pid(&kept).await;
        assert_eq!(kept.status(), (0, 0, 0));
    }

    #[tokio::test]
    async fn beyond_the_most_kept_the_pool_serves() {
        let Some(kept) = kept().await else { return };
        let many = (0..MOST + 4).map(|_| kept.query_all_raw(sql("SELECT pg_sleep(0.2)")));
        for answer in futures::future::join_all(many).await {
            answer.expect("answered, kept or pooled");
        }
        assert_eq!(kept.status(), (MOST, MOST, MOST));
    }

    #[tokio::test]
    async fn opened_ahead_they_serve_the_first_statements() {
        let Some(kept) = kept().await else { return };
        assert_eq!(kept.open_ahead().await.expect("opened"), MOST);
        assert_eq!(kept.status(), (MOST, MOST, MOST));
        assert_eq!(kept.open_ahead().await.expect("already open"), 0);
        let mut ahead = std::collections::HashSet::new();
        let mut idle = std::mem::take(&mut *lock(&kept.idle));
        for connection in &mut idle {
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut connection.conn)
                .await
                .expect("an open connection");
            ahead.insert(pid);
        }
        *lock(&kept.idle) = idle;
        assert_eq!(ahead.len(), MOST);
        let at_once = (0..MOST).map(|_| {
            kept.query_one_raw(sql(
                "SELECT pg_backend_pid() AS pid, pg_sleep(0.1)::text AS slept",
            ))
        });
        for answer in futures::future::join_all(at_once).await {
            let row = answer.expect("answered").expect("a row");
            let pid: i32 = row.try_get("", "pid").expect("a pid");
            assert!(ahead.contains(&pid), "{pid} is one opened ahead");
        }
        assert_eq!(kept.status(), (MOST, MOST, MOST), "none opened beside them");
    }
}
