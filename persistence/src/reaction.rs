//! What reacts to events inside the change that caused them: webhook
//! deliveries, routine runs triggered by events, agents' replies, and the
//! ones to come. A reaction registers with the database handle
//! ([`Reactions`]); the unit of work (`unit_of_work`) runs it in
//! the change's transaction, so its work exists exactly when the change
//! committed. The event log knows none of them.
//!
//! A reaction names the event types it may want per app in
//! `event_interest` ([`declare_interest`]) when it is set up; the statement
//! that appends a change's events reads which reactions want them, and only
//! those run. A change nothing wants costs no reaction query at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbit_domain::DomainResult;
use orbit_domain::events::{Event, EventType};
use orbit_domain::ids::AppScope;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

use crate::db_error;
use crate::queues::Queue;

/// The change a reaction runs in (the unit of work's [`crate::unit_of_work::Change`]).
pub trait InChange: Send + Sync {
    fn txn(&self) -> &DatabaseTransaction;
    fn scope(&self) -> AppScope;
    fn now(&self) -> DateTime<Utc>;
    /// Appends an event to the change (on its topics), at commit.
    fn emit(&self, event: Event);
    /// The change wrote work to `queue`: its loop wakes after the commit.
    fn queued(&self, queue: Queue);
}

/// One change as reactions see it: the event and the id of its first row
/// (an event written to several topics is one change: webhooks and routines
/// take it once, under this id).
#[derive(Debug, Clone)]
pub struct Happened {
    pub event_id: Uuid,
    pub event: Arc<Event>,
}

impl Happened {
    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }
}

pub type ReactionFuture<'a> = Pin<Box<dyn Future<Output = DomainResult<()>> + Send + 'a>>;

pub trait Reaction: Send + Sync + 'static {
    /// Its name in `event_interest`.
    fn name(&self) -> &'static str;

    /// Acts on `happened` (only events of types its app declared interest
    /// in for this reaction) inside `change`: writes its work with
    /// `change.txn()`, says which queue it wrote with `change.queued`, and
    /// may emit events of its own (they get their own round of reactions).
    fn react<'a>(
        &'a self,
        change: &'a dyn InChange,
        happened: &'a [Happened],
    ) -> ReactionFuture<'a>;
}

/// The reactions a database handle runs, in order.
#[derive(Clone, Default)]
pub struct Reactions(Arc<Vec<Arc<dyn Reaction>>>);

impl Reactions {
    pub fn new(reactions: Vec<Arc<dyn Reaction>>) -> Self {
        Self(Arc::new(reactions))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Reaction>> {
        self.0.iter()
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|reaction| reaction.name()).collect()
    }
}

impl std::fmt::Debug for Reactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Records that `reaction` may act on the app's events of `types`, in the
/// transaction that sets it up (a webhook saved, a routine saved, an agent
/// added to a thread). Kept until the app is deleted.
pub async fn declare_interest<C: ConnectionTrait>(
    conn: &C,
    scope: AppScope,
    types: impl IntoIterator<Item = EventType>,
    reaction: &str,
) -> DomainResult<()> {
    let mut insert = Query::insert();
    insert
        .into_table("event_interest")
        .columns(["app_id", "event_type", "reaction"]);
    let mut any = false;
    for event_type in types {
        any = true;
        insert.values_panic([
            scope.uuid().into(),
            event_type.as_str().into(),
            reaction.into(),
        ]);
    }
    if !any {
        return Ok(());
    }
    insert.on_conflict(
        OnConflict::columns(["app_id", "event_type", "reaction"])
            .do_nothing()
            .to_owned(),
    );
    conn.execute(&insert).await.map_err(db_error)?;
    Ok(())
}

/// Forgets the app's interests, with the app.
pub async fn forget_interest<C: ConnectionTrait>(conn: &C, scope: AppScope) -> DomainResult<()> {
    let delete = Query::delete()
        .from_table("event_interest")
        .and_where(Expr::col("app_id").eq(scope.uuid()))
        .to_owned();
    conn.execute(&delete).await.map_err(db_error)?;
    Ok(())
}
