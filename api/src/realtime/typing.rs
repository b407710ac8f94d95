//! Typing indicators: ephemeral, published on the thread's topic and never
//! stored. A `typing.started` holds for [`TYPING_TTL`]; a client renews it
//! by calling `setTyping` again, and without renewal this process publishes
//! `typing.stopped` itself, so a client that vanishes mid-sentence does not
//! leave everyone watching "…is typing" forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use orbit_domain::events::{self, Event, Topic};
use orbit_domain::ids::{AppScope, ThreadId, UserId};
use orbit_realtime::{Broker, BrokerError};
use tokio::sync::watch;

use super::envelope::Envelope;
use crate::Services;

pub const TYPING_TTL: Duration = Duration::seconds(5);

type Key = (AppScope, ThreadId, UserId);

/// Who is typing where, as far as this process announced it.
#[derive(Clone, Default)]
pub struct Typing {
    expiries: Arc<Mutex<HashMap<Key, DateTime<Utc>>>>,
}

impl Typing {
    pub async fn set(
        &self,
        broker: &Broker,
        key: Key,
        typing: bool,
        now: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        {
            let mut expiries = self.lock();
            if typing {
                expiries.insert(key, now + TYPING_TTL);
            } else {
                expiries.remove(&key);
            }
        }
        publish(broker, key, typing, now).await
    }

    /// Ends what was not renewed in time; called on every tick.
    pub async fn expire(&self, broker: &Broker, now: DateTime<Utc>) {
        let expired: Vec<Key> = {
            let mut expiries = self.lock();
            let expired: Vec<Key> = expiries
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(key, _)| *key)
                .collect();
            for key in &expired {
                expiries.remove(key);
            }
            expired
        };
        for key in expired {
            if let Err(error) = publish(broker, key, false, now).await {
                tracing::warn!(%error, "could not publish typing.stopped");
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, DateTime<Utc>>> {
        self.expiries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn publish(
    broker: &Broker,
    (scope, thread, user): Key,
    typing: bool,
    now: DateTime<Utc>,
) -> Result<(), BrokerError> {
    let event = if typing {
        Event::TypingStarted(events::Typing {
            thread_id: thread,
            user_id: user,
            expires_at: Some(now + TYPING_TTL),
        })
    } else {
        Event::TypingStopped(events::Typing {
            thread_id: thread,
            user_id: user,
            expires_at: None,
        })
    };
    Envelope::publish_ephemeral(broker, scope, Topic::Thread(thread), event, now).await
}

/// Expires typing on each tick until the ticker stops.
pub async fn run_expiry(services: Services, mut ticks: watch::Receiver<()>) {
    while ticks.changed().await.is_ok() {
        services
            .typing()
            .expire(services.broker(), services.clock().now())
            .await;
    }
}
