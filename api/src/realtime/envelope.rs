//! What travels over the broker: one event, serialised once by whoever
//! publishes it and shared by every subscriber of its topic.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use orbit_domain::entities::event;
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

    pub fn encode(&self) -> Bytes {
        // Serialising plain data (strings, numbers, JSON values) cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
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
}
