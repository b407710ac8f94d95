//! What travels over the broker: one event, serialised once by whoever
//! publishes it and shared by every subscriber of its topic.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
use orbit_domain::events::{Event, EventType, Topic};
use orbit_domain::ids::AppScope;
use orbit_persistence::committed::AppendedEvent;
use orbit_realtime::{Broker, BrokerError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// On the wire: `{"app", "topic", "seq", "type", "payload", "occurredAt"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The app the event belongs to; a subscriber drops anything of another
    /// app even though topic names are already unique.
    pub app: Uuid,
    pub topic: String,
    /// The stored event's per-topic sequence; `None` for ephemeral events
    /// (typing, presence), which are never stored nor replayed.
    pub seq: Option<i64>,
    /// The event, typed: `type` and `payload` on the wire.
    #[serde(flatten)]
    pub event: Event,
    pub occurred_at: DateTime<Utc>,
}

impl Envelope {
    /// A stored event as the log holds it; `None` (with a warning) for one
    /// this version cannot read.
    pub fn stored(event: &event::Model) -> Option<Self> {
        match Event::from_parts(&event.event_type, event.payload.clone()) {
            Ok(typed) => Some(Self {
                app: event.app_id,
                topic: event.topic.clone(),
                seq: Some(event.seq),
                event: typed,
                occurred_at: event.occurred_at,
            }),
            Err(error) => {
                tracing::warn!(%error, topic = %event.topic, seq = event.seq, "skipping an event this version cannot read");
                None
            }
        }
    }

    /// An event this process has just committed.
    pub fn appended(event: &AppendedEvent) -> Self {
        Self {
            app: event.app,
            topic: event.topic.clone(),
            seq: Some(event.seq),
            event: event.event.as_ref().clone(),
            occurred_at: event.occurred_at,
        }
    }

    pub fn ephemeral(app: Uuid, topic: Topic, event: Event, occurred_at: DateTime<Utc>) -> Self {
        Self {
            app,
            topic: topic.key(),
            seq: None,
            event,
            occurred_at,
        }
    }

    pub fn event_type(&self) -> EventType {
        self.event.event_type()
    }

    /// Publishes an event that is never stored (typing, presence) on `topic`.
    pub async fn publish_ephemeral(
        broker: &Broker,
        app: AppScope,
        topic: Topic,
        event: Event,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let envelope = Self::ephemeral(app.uuid(), topic, event, occurred_at);
        broker.publish(&envelope.topic, envelope.encode()).await
    }

    pub fn encode(&self) -> Bytes {
        // Serialising plain data (strings, numbers, JSON values) cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a broker message once for all of this process's subscribers
    /// of its topic: they all receive the same buffer, so the first to ask
    /// decodes it and the others share the result.
    pub fn decode_shared(bytes: &Bytes) -> Option<Arc<Self>> {
        let same = |(cached, _): &&(Bytes, Arc<Envelope>)| {
            cached.as_ptr() == bytes.as_ptr() && cached.len() == bytes.len()
        };
        if let Some((_, envelope)) = lock_decoded().iter().find(same) {
            return Some(envelope.clone());
        }
        let envelope = Arc::new(Self::decode(bytes)?);
        let mut decoded = lock_decoded();
        decoded.push_front((bytes.clone(), envelope.clone()));
        decoded.truncate(DECODED_KEPT);
        Some(envelope)
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        match serde_json::from_slice(bytes) {
            Ok(envelope) => Some(envelope),
            Err(error) => {
                tracing::warn!(%error, "dropping a malformed broker message");
                None
            }
        }
    }
}

/// Recent broker messages and their decoded envelopes, newest first. An
/// entry holds its buffer, so the buffer's address, which is the key, cannot
/// be reused by another message while the entry lives.
static DECODED: LazyLock<Mutex<Decoded>> =
    LazyLock::new(|| Mutex::new(VecDeque::with_capacity(DECODED_KEPT + 1)));
/// Messages published close together reach subscribers interleaved; this
/// many recent ones are kept.
const DECODED_KEPT: usize = 64;

type Decoded = VecDeque<(Bytes, Arc<Envelope>)>;

fn lock_decoded() -> std::sync::MutexGuard<'static, Decoded> {
    DECODED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use orbit_domain::events::{AppDeletion, Typing};
    use orbit_domain::ids::{AppId, ThreadId, UserId};

    use super::*;

    fn typing() -> Event {
        Event::TypingStarted(Typing {
            thread_id: ThreadId::generate(),
            user_id: UserId::generate(),
            expires_at: None,
        })
    }

    #[test]
    fn round_trips_with_type_and_payload_on_the_wire() {
        let envelope = Envelope {
            app: Uuid::now_v7(),
            topic: "app:app_x".to_owned(),
            seq: Some(7),
            event: Event::AppDeleted(AppDeletion {
                app_id: AppId::generate(),
            }),
            occurred_at: Utc::now(),
        };
        let wire: serde_json::Value = serde_json::from_slice(&envelope.encode()).unwrap();
        assert_eq!(wire["type"], "app.deleted");
        assert_eq!(wire["payload"], envelope.event.payload());
        assert_eq!(Envelope::decode(&envelope.encode()).unwrap(), envelope);
        assert!(Envelope::decode(b"not json").is_none());
    }

    #[test]
    fn subscribers_of_one_message_share_one_decoding() {
        let envelope = Envelope::ephemeral(
            Uuid::now_v7(),
            Topic::Thread(ThreadId::generate()),
            typing(),
            Utc::now(),
        );
        let bytes = envelope.encode();
        let first = Envelope::decode_shared(&bytes).unwrap();
        let second = Envelope::decode_shared(&bytes.clone()).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(*first, envelope);
        // Equal content in another buffer is another message.
        let other = Envelope::decode_shared(&Bytes::copy_from_slice(&bytes)).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
    }
}
