//! Events the worker publishes straight to a topic's subscribers without
//! storing them (an agent's reply as it streams). How they travel (the
//! envelope, the broker) is the server's business: it hands the worker an
//! [`EphemeralEvents`], so the worker stays free of the API's types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orbit_domain::events::Event;
use orbit_domain::ids::AppScope;

#[async_trait]
pub trait EphemeralEvents: Send + Sync + 'static {
    /// Publishes `event` on its topics, for subscribers only: never
    /// stored, never replayed.
    async fn publish(
        &self,
        app: AppScope,
        event: Event,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), String>;
}
