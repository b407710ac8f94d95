//! One way to make a change: begin, change, emit its events, commit.
//!
//! ```text
//! let change = Change::begin(db, scope, now).await?;
//! /* write with change.txn() */
//! change.emit(Event::MessageCreated(snapshot));
//! change.commit().await?;
//! ```
//!
//! At commit the events are appended to the log (one statement on
//! Postgres, which also reads which reactions the app's events interest),
//! the interested reactions run in the same transaction (and their own
//! events get a round of their own), the transaction commits, the relay is
//! handed the rows to publish, and the loops of the queues written to wake.
//!
//! A change that is one write and its events can also be made without a
//! transaction on Postgres ([`in_one_statement`]): the write, the append and
//! the reading of interest are one statement that writes only if no
//! reaction wants the events. It saves the `BEGIN` and `COMMIT` round trips
//! and holds its locks (a topic's sequence row) only for the statement.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use orbit_domain::events::Event;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::committed::AppendedEvent;
use crate::error::is_unique_violation;
use crate::outbox::{self, GuardedWrite, UnlessWanted, WriteError};
use crate::queues::{Queue, QueueSet};
use crate::reaction::{Happened, InChange};
use crate::{Db, db_error};

/// Reactions may emit events that others react to (a reply ends, so its
/// routine run ends, so a webhook delivers that). No chain is longer than
/// this; one that would be is a bug, refused rather than looped.
const MAX_ROUNDS: usize = 4;

/// A change in progress: a transaction and the events it will append.
pub struct Change<'db> {
    db: &'db Db,
    txn: DatabaseTransaction,
    scope: AppScope,
    now: DateTime<Utc>,
    emitted: Mutex<Vec<Event>>,
    queued: Mutex<QueueSet>,
}

impl<'db> Change<'db> {
    #[orbit_macros::boxed('db)]
    pub async fn begin(db: &'db Db, scope: AppScope, now: DateTime<Utc>) -> DomainResult<Self> {
        let txn = db.conn().begin().await.map_err(db_error)?;
        Ok(Self {
            db,
            txn,
            scope,
            now,
            emitted: Mutex::default(),
            queued: Mutex::default(),
        })
    }

    pub fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn scope(&self) -> AppScope {
        self.scope
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Appends `event` on its topics at commit.
    pub fn emit(&self, event: Event) {
        lock(&self.emitted).push(event);
    }

    /// Appends each of `events` at commit.
    pub fn emit_all(&self, events: impl IntoIterator<Item = Event>) {
        lock(&self.emitted).extend(events);
    }

    /// The change wrote work to `queue` itself (not through a reaction).
    pub fn queued(&self, queue: Queue) {
        lock(&self.queued).insert(queue);
    }

    /// Appends the events, runs the reactions that want them, commits, and
    /// tells the relay and the worker.
    #[orbit_macros::boxed('db)]
    pub async fn commit(self) -> DomainResult<()> {
        let reactions = self.db.reactions().clone();
        let names = reactions.names();
        let mut appended: Vec<AppendedEvent> = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let events: Vec<Arc<Event>> = std::mem::take(&mut *lock(&self.emitted))
                .into_iter()
                .map(Arc::new)
                .collect();
            if events.is_empty() {
                break;
            }
            let round = outbox::append(&self.txn, self.scope, self.now, events, &names).await?;
            appended.extend(round.rows);
            for reaction in reactions.iter() {
                let wanted: Vec<Happened> = round
                    .happened
                    .iter()
                    .filter(|happened| {
                        round.wanted.iter().any(|(name, event_type)| {
                            name == reaction.name() && *event_type == happened.event_type()
                        })
                    })
                    .cloned()
                    .collect();
                if !wanted.is_empty() {
                    reaction.react(&self, &wanted).await?;
                }
            }
        }
        if !lock(&self.emitted).is_empty() {
            return Err(DomainError::internal(
                "reactions kept emitting events: a reaction loop",
            ));
        }
        let queued = *lock(&self.queued);
        self.txn.commit().await.map_err(db_error)?;
        self.db.committed(appended, queued);
        Ok(())
    }
}

/// What [`in_one_statement`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneStatement {
    /// Written and committed with its events.
    Made,
    /// Nothing written: a reaction wants the events (or the backend is
    /// SQLite). Make the change with [`Change::begin`].
    NeedsTransaction,
    /// Nothing written: a unique constraint refused the write.
    Conflicted,
    /// Nothing written: the write's precondition did not hold.
    Refused,
}

/// Makes the change `write` plus `events` in one statement, outside any
/// transaction, if no reaction wants the events (Postgres). Then the relay
/// and the worker are told as after [`Change::commit`].
#[orbit_macros::boxed]
pub async fn in_one_statement(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    write: GuardedWrite,
    events: Vec<Event>,
) -> DomainResult<OneStatement> {
    let Some(first_type) = events.first().map(Event::event_type) else {
        return Err(DomainError::internal(
            "a one-statement change must append events",
        ));
    };
    // SQLite: every change is a transaction (its statements cost no round trip).
    let Some(conn) = db.kept_connections() else {
        return Ok(OneStatement::NeedsTransaction);
    };
    if db.wanted_lately().remembers(scope, first_type, now) {
        return Ok(OneStatement::NeedsTransaction);
    }
    let names = db.reactions().names();
    let events = events.into_iter().map(Arc::new).collect();
    match outbox::write_and_append_unless_wanted(conn, scope, now, &write, events, &names).await {
        Ok(UnlessWanted::Committed(appended)) => {
            db.committed(appended, QueueSet::default());
            Ok(OneStatement::Made)
        }
        Ok(UnlessWanted::Wanted) => {
            db.wanted_lately().remember(scope, first_type, now);
            Ok(OneStatement::NeedsTransaction)
        }
        Ok(UnlessWanted::Refused) => Ok(OneStatement::Refused),
        Err(WriteError::Database(error)) if is_unique_violation(&error) => {
            Ok(OneStatement::Conflicted)
        }
        Err(error) => Err(error.into()),
    }
}

impl InChange for Change<'_> {
    fn txn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    fn scope(&self) -> AppScope {
        self.scope
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }

    fn emit(&self, event: Event) {
        Change::emit(self, event);
    }

    fn queued(&self, queue: Queue) {
        Change::queued(self, queue);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
