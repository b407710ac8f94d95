use std::sync::Arc;
use std::time::Duration;

use crate::committed::{AppendedEvent, CommittedEvents};
use crate::db_error;
use crate::kept_connections::KeptConnections;
use crate::queues::{QueueSet, WorkSignals};
use crate::reaction::Reactions;
use crate::thread_gate::ThreadGates;
use crate::wanted_lately::WantedLately;
use orbit_domain::{DomainError, DomainResult};
use orbit_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend};

/// How long a request waits for a database connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Postgres connections kept out of the pool by default
/// (`kept_connections`): enough for the one-statement writes in flight at
/// once on a few cores.
pub const DEFAULT_KEPT_CONNECTIONS: usize = 8;

/// The most connections the Postgres pool opens (besides the kept ones).
const POSTGRES_POOL_MAX: u32 = 20;

/// How a process uses its database connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// How long a request waits for a connection. While the database is
    /// down that is how long it takes to answer `UNAVAILABLE`, so it is
    /// short: a request never holds on to a caller for the whole request
    /// timeout over a database that is gone.
    pub acquire_timeout: Duration,
    /// Postgres: connections kept out of the pool for the statements that
    /// commit on their own, which then skip sqlx's ping on return
    /// (`kept_connections`); 0 runs them on the pool. SQLite ignores it.
    pub kept_connections: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            kept_connections: DEFAULT_KEPT_CONNECTIONS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What the pool holds: open connections, of them idle, and the most it may
/// open, the kept connections (Postgres) included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A connection pool to SQLite or Postgres.
#[derive(Debug, Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// What reacts to events inside the changes made through this handle.
    reactions: Reactions,
    /// Events this process committed, for the relay to publish at once.
    committed: Arc<CommittedEvents>,
    /// Wakes the worker's loop of each queue a commit wrote to.
    work: Arc<WorkSignals>,
    /// Which apps' changes reactions wanted lately (`unit_of_work`).
    wanted_lately: Arc<WantedLately>,
    /// Postgres: connections kept out of the pool for one-statement
    /// changes and the relay, which skip sqlx's ping on return.
    kept: Option<Arc<KeptConnections>>,
    /// Sends into one thread in the database at once (`thread_gate`).
    thread_gates: Arc<ThreadGates>,
}

impl Db {
    /// `sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://...`,
    /// with the default [`PoolSettings`].
    #[orbit_macros::boxed]
    pub async fn connect(url: &str) -> DomainResult<Self> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// [`Db::connect_with`], running `reactions` in the changes made
    /// through it ([`crate::connect_with`] gives the standard ones).
    pub fn with_reactions(mut self, reactions: Reactions) -> Self {
        self.reactions = reactions;
        self
    }

    /// Like [`Db::connect`], with `pool`'s settings.
    #[orbit_macros::boxed]
    pub async fn connect_with(url: &str, pool: PoolSettings) -> DomainResult<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(pool.acquire_timeout)
            .acquire_timeout(pool.acquire_timeout);
        if url.starts_with("sqlite:") {
            // SQLite has one writer. A single connection makes writers queue
            // in the pool instead of failing with SQLITE_BUSY when a read
            // transaction upgrades; it also keeps an in-memory database alive,
            // as each connection to `:memory:` would otherwise be its own
            // database. Postgres is the backend for concurrency.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>)
                .map_sqlx_sqlite_opts(|opts| {
                    opts.foreign_keys(true)
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .busy_timeout(Duration::from_secs(10))
                });
        } else {
            options
                .max_connections(POSTGRES_POOL_MAX)
                .min_connections(1)
                // Ping on checkout only where it can tell something
                // (`connection_trust`): a round trip fewer per checkout.
                .test_before_acquire(false)
                .map_sqlx_postgres_before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if crate::connection_trust::needs_ping(meta.idle_for) {
                            sea_orm::sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                });
        }
        let conn = Database::connect(options).await.map_err(db_error)?;
        Ok(Self {
            kept: KeptConnections::for_postgres(&conn, pool.kept_connections).map(Arc::new),
            conn,
            reactions: Reactions::default(),
            committed: Arc::default(),
            work: Arc::default(),
            wanted_lately: Arc::default(),
            thread_gates: Arc::default(),
        })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Postgres: opens the kept connections now rather than as writes need
    /// them (`ORBIT_DATABASE_OPEN_AHEAD`); answers how many it opened. A
    /// no-op on SQLite.
    #[orbit_macros::boxed]
    pub async fn open_kept_connections(&self) -> DomainResult<usize> {
        match &self.kept {
            Some(kept) => kept.open_ahead().await.map_err(db_error),
            None => Ok(0),
        }
    }

    /// Postgres: where a statement that commits on its own runs, without
    /// sqlx's ping on return where a kept connection is free
    /// (`kept_connections`). `None` on SQLite.
    pub(crate) fn kept_connections(&self) -> Option<&KeptConnections> {
        self.kept.as_deref()
    }

    /// Where sends into a thread wait their turn (`thread_gate`).
    pub(crate) fn thread_gates(&self) -> &ThreadGates {
        &self.thread_gates
    }

    /// Commits a transaction that wrote no events (those go through
    /// `unit_of_work::Change`).
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> DomainResult<()> {
        txn.commit().await.map_err(db_error)
    }

    pub(crate) fn reactions(&self) -> &Reactions {
        &self.reactions
    }

    /// A change committed: hand its events to the relay, wake its queues.
    pub(crate) fn committed(&self, events: Vec<AppendedEvent>, queued: QueueSet) {
        self.committed.push(events);
        self.work.written(queued);
    }

    /// Events this process committed, waiting for the relay.
    pub fn committed_events(&self) -> &Arc<CommittedEvents> {
        &self.committed
    }

    pub(crate) fn wanted_lately(&self) -> &WantedLately {
        &self.wanted_lately
    }

    /// The worker's wake-ups, per queue.
    pub fn work(&self) -> &Arc<WorkSignals> {
        &self.work
    }

    /// The pool's connections now (for `/metrics`).
    pub fn pool_status(&self) -> PoolStatus {
        let (size, idle, max) = match self.backend() {
            Backend::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            Backend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
        };
        let (kept_open, kept_idle, kept_max) = self
            .kept
            .as_deref()
            .map_or((0, 0, 0), KeptConnections::status);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        PoolStatus {
            size: size.saturating_add(count(kept_open)),
            idle: count(idle).saturating_add(count(kept_idle)),
            max: max.saturating_add(count(kept_max)),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.conn.get_database_backend() {
            DbBackend::Sqlite => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }

    #[orbit_macros::boxed]
    pub async fn migrate(&self) -> DomainResult<()> {
        Migrator::up(&self.conn, None).await.map_err(db_error)
    }

    /// For readiness checks.
    #[orbit_macros::boxed]
    pub async fn ping(&self) -> DomainResult<()> {
        self.conn.ping().await.map_err(db_error)
    }

    #[orbit_macros::boxed]
    pub async fn close(self) -> DomainResult<()> {
        self.conn.close().await.map_err(DomainError::internal)
    }
}
