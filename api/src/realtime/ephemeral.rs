//! The worker's way to reach subscribers: its ephemeral events (an agent's
//! reply as it streams) travel as the server's own do, in an [`Envelope`]
//! over the broker.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use orbit_domain::events::Event;
use orbit_domain::ids::AppScope;
use orbit_realtime::Broker;

use super::envelope::Envelope;

pub(crate) struct BrokerEvents(pub Broker);

#[async_trait]
impl orbit_worker::events::EphemeralEvents for BrokerEvents {
    async fn publish(
        &self,
        app: AppScope,
        event: Event,
        occurred_at: DateTime<Utc>,
    ) -> Result<(), String> {
        for topic in event.topics(app.app_id()) {
            Envelope::publish_ephemeral(&self.0, app, topic, event.clone(), occurred_at)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok(())
    }
}
