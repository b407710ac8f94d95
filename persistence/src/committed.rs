//! Events this process has just committed, handed straight to the relay so
//! that it publishes them without reading them back. The relay's sweep of
//! `unpublished_events` still catches what a crash or another process left.

use std::sync::{Arc, Mutex};

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

/// Committed events waiting for the relay, oldest first.
#[derive(Debug, Default)]
pub struct CommittedEvents {
    waiting: Mutex<Vec<AppendedEvent>>,
    arrived: Notify,
}

impl CommittedEvents {
    pub(crate) fn push(&self, events: Vec<AppendedEvent>) {
        if events.is_empty() {
            return;
        }
        self.lock().extend(events);
        self.arrived.notify_one();
    }

    /// Takes everything waiting.
    pub fn take(&self) -> Vec<AppendedEvent> {
        std::mem::take(&mut *self.lock())
    }

    /// Returns when events arrive (at once if some did since the last call).
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AppendedEvent>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
