//! What travels over the broker: one event, serialised once by whoever
//! publishes it and shared by every subscriber of its topic.

use std::collections::VecDeque;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
use orbit_domain::events::Topic;
use orbit_domain::ids::AppScope;
use orbit_realtime::{Broker, BrokerError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

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
    #[serde(rename = "type")]
    pub event_type: String,
    pub payload: Value,
    pub occurred_at: DateTime<Utc>,
}

impl Envelope {
    pub fn stored(event: &event::Model) -> Self {
        Self {
            app: event.app_id,
            topic: event.topic.clone(),
            seq: Some(event.seq),
            event_type: event.event_type.clone(),
            payload: event.payload.clone(),
            occurred_at: event.occurred_at,
        }
    }

    pub fn ephemeral(
        app: Uuid,
        topic: String,
        event_type: &str,
        payload: Value,
        occurred_at: DateTime<Utc>,
    ) -> Self {
        Self {
            app,
            topic,
            seq: None,
            event_type: event_type.to_owned(),
            payload,
            occurred_at,
        }
    }

    /// Publishes an event that is never stored (typing, presence) on `topic`.
    pub async fn publish_ephemeral(
        broker: &Broker,
        app: AppScope,
        topic: Topic,
        event_type: &str,
        payload: Value,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let topic = topic.key();
        let envelope = Self::ephemeral(app.uuid(), topic.clone(), event_type, payload, occurred_at);
        broker.publish(&topic, envelope.encode()).await
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
    use super::*;

    #[test]
    fn round_trips() {
        let envelope = Envelope {
            app: Uuid::now_v7(),
            topic: "thread:thr_x".to_owned(),
            seq: Some(7),
            event_type: "message.created".to_owned(),
            payload: serde_json::json!({"messageId": "msg_1"}),
            occurred_at: Utc::now(),
        };
        assert_eq!(Envelope::decode(&envelope.encode()).unwrap(), envelope);
        assert!(Envelope::decode(b"not json").is_none());
    }

    #[test]
    fn subscribers_of_one_message_share_one_decoding() {
        let envelope = Envelope::ephemeral(
            Uuid::now_v7(),
            "thread:thr_y".to_owned(),
            "typing.started",
            serde_json::json!({"userId": "usr_1"}),
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
