//! Events this process has just committed, handed straight to the relay so
//! that it publishes them without reading them back. The relay's sweep of
//! `unpublished_events` still catches what a crash or another process left.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use orbit_domain::events::Event;
use tokio::sync::Notify;
use uuid::Uuid;

/// One row of the log as written: an event on one of its topics.
#[derive(Debug, Clone)]
pub struct AppendedEvent {
    pub id: Uuid,
    pub app: Uuid,
    pub topic: String,
    pub seq: i64,
    pub event: Arc<Event>,
    pub occurred_at: DateTime<Utc>,
}

/// Sees each commit's events as the commit returns, before the relay does.
type CommitObserver = Box<dyn Fn(&[AppendedEvent]) + Send + Sync>;

/// Committed events waiting for the relay, oldest first.
#[derive(Default)]
pub struct CommittedEvents {
    waiting: Mutex<Vec<AppendedEvent>>,
    arrived: Notify,
    observer: OnceLock<CommitObserver>,
}

impl fmt::Debug for CommittedEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommittedEvents")
            .field("waiting", &self.lock().len())
            .field("observed", &self.observer.get().is_some())
            .finish()
    }
}

impl CommittedEvents {
    /// Runs `observer` on every commit's events, in the committing task,
    /// before the commit returns: for what must not wait for the relay (a
    /// credential cache forgetting a revoked session before the logout
    /// answers). One observer per process; a second is ignored.
    pub fn observe(&self, observer: impl Fn(&[AppendedEvent]) + Send + Sync + 'static) {
        if self.observer.set(Box::new(observer)).is_err() {
            tracing::warn!("a second commit observer was ignored");
        }
    }

    pub(crate) fn push(&self, events: Vec<AppendedEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(observer) = self.observer.get() {
            observer(&events);
        }
        self.lock().extend(events);
        self.arrived.notify_one();
    }

    /// Takes everything waiting.
    pub fn take(&self) -> Vec<AppendedEvent> {
        std::mem::take(&mut *self.lock())
    }

    /// Returns when events arrive (at once if some did since the last call).
    #[orbit_macros::boxed]
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AppendedEvent>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
