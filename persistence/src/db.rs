use std::sync::Arc;
use std::time::Duration;

use orbit_domain::{DomainError, DomainResult};
use orbit_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend};
use tokio::sync::Notify;

use crate::db_error;

/// How long a request waits for a database connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What the pool holds: open connections, of them idle, and the most it may open.
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
    /// Woken after every commit, so the outbox relay publishes new events
    /// straight away instead of at its next sweep.
    committed: Arc<Notify>,
}

impl Db {
    /// `sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://...`,
    /// waiting at most [`DEFAULT_ACQUIRE_TIMEOUT`] for a connection.
    pub async fn connect(url: &str) -> DomainResult<Self> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// Like [`Db::connect`]; a request waits at most `acquire_timeout` for
    /// a connection. While the database is down that is how long it takes
    /// to answer `UNAVAILABLE`, so it is short: a request never holds on to
    /// a caller for the whole request timeout over a database that is gone.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> DomainResult<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(acquire_timeout)
            .acquire_timeout(acquire_timeout);
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
            options.max_connections(20).min_connections(1);
        }
        let conn = Database::connect(options).await.map_err(db_error)?;
        Ok(Self {
            conn,
            committed: Arc::new(Notify::new()),
        })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Commits and tells the outbox relay that events may be waiting.
    pub(crate) async fn commit(&self, txn: DatabaseTransaction) -> DomainResult<()> {
        txn.commit().await.map_err(db_error)?;
        self.committed.notify_one();
        Ok(())
    }

    /// Signalled after each commit (a permit is kept if nobody waits).
    pub fn committed(&self) -> &Notify {
        &self.committed
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
        PoolStatus {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.conn.get_database_backend() {
            DbBackend::Sqlite => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }

    pub async fn migrate(&self) -> DomainResult<()> {
        Migrator::up(&self.conn, None).await.map_err(db_error)
    }

    /// For readiness checks.
    pub async fn ping(&self) -> DomainResult<()> {
        self.conn.ping().await.map_err(db_error)
    }

    pub async fn close(self) -> DomainResult<()> {
        self.conn.close().await.map_err(DomainError::internal)
    }
}
