//! Events the worker publishes straight to a topic's subscribers without
//! storing them (an agent's reply as it streams). How they travel (the
//! envelope, the broker) is the server's business: it hands the worker an
//! [`EphemeralEvents`], so the worker stays free of the API's types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orbit_domain::events::Topic;
use orbit_domain::ids::AppScope;
use serde_json::Value;

#[async_trait]
pub trait EphemeralEvents: Send + Sync + 'static {
    /// Publishes an event of `event_type` on `topic`, for subscribers only:
    /// never stored, never replayed.
    async fn publish(
        &self,
        app: AppScope,
        topic: Topic,
        event_type: &str,
        payload: Value,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), String>;
}
