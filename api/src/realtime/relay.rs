//! The outbox relay: publishes committed events to the broker.
//!
//! What this process commits reaches the relay straight from the commit
//! (`Db::committed_events`): it publishes those events as they were written,
//! without reading them back, and clears their markers in
//! `unpublished_events` with one statement per batch. A sweep every
//! `ORBIT_IDLE_SWEEP` reads the markers left over — events another process
//! committed and failed to publish, or committed just before a crash — and
//! publishes those it already saw at the sweep before (an event that young
//! is most likely being published by its own process right now). An event
//! leaves `unpublished_events` only after the broker took it, so delivery
//! is at least once; subscribers drop duplicates by sequence.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use futures::future::join_all;
use orbit_domain::DomainResult;
use orbit_persistence::outbox;
use orbit_realtime::{Broker, BrokerError};
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use super::envelope::Envelope;
use crate::Services;

/// Events read per round trip by the sweep.
const SWEEP_BATCH: u64 = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs until `stop` flips to true, then publishes what it still holds.
pub async fn run(
    services: Services,
    broker: Broker,
    retention: ChronoDuration,
    sweep_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut relay = Relay {
        services,
        broker,
        seen_at_last_sweep: HashSet::new(),
    };
    let mut backoff = Duration::from_millis(50);
    let mut next_sweep = Instant::now();
    let mut last_prune = Instant::now() - PRUNE_EVERY;
    loop {
        relay.publish_committed().await;
        if Instant::now() >= next_sweep {
            match relay.sweep().await {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    next_sweep = Instant::now() + sweep_every;
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "outbox relay could not sweep; will retry");
                    next_sweep = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            relay.prune(retention).await;
        }
        tokio::select! {
            () = relay.services.db().committed_events().arrived() => {},
            () = tokio::time::sleep_until(next_sweep) => {},
            _ = stop.changed() => {
                relay.publish_committed().await;
                return;
            }
        }
        if *stop.borrow() {
            relay.publish_committed().await;
            return;
        }
    }
}

struct Relay {
    services: Services,
    broker: Broker,
    /// Markers the last sweep found, published only if this one finds them
    /// again.
    seen_at_last_sweep: HashSet<Uuid>,
}

impl Relay {
    /// Publishes what this process committed since the last call.
    async fn publish_committed(&self) {
        let committed = self.services.db().committed_events().take();
        if committed.is_empty() {
            return;
        }
        let envelopes: Vec<(Uuid, Envelope)> = committed
            .iter()
            .map(|event| (event.id, Envelope::appended(event)))
            .collect();
        // A failure leaves the marker for the sweep.
        if let Err(error) = self.publish(&envelopes).await {
            tracing::warn!(%error, "could not clear published events' markers; the sweep will publish them again");
        }
    }

    /// Publishes leftovers: markers the last sweep saw too.
    async fn sweep(&mut self) -> DomainResult<()> {
        let waiting = outbox::unpublished(self.services.db(), SWEEP_BATCH).await?;
        let seen_before = std::mem::take(&mut self.seen_at_last_sweep);
        let mut stale = Vec::new();
        for event in &waiting {
            if seen_before.contains(&event.id) {
                // One this version cannot read is a newer version's to publish.
                if let Some(envelope) = Envelope::stored(event) {
                    stale.push((event.id, envelope));
                }
            } else {
                self.seen_at_last_sweep.insert(event.id);
            }
        }
        if !stale.is_empty() {
            tracing::info!(
                events = stale.len(),
                "publishing events their process left unpublished"
            );
            self.publish(&stale).await?;
        }
        Ok(())
    }

    /// Publishes `events` in order and clears the markers of those the broker
    /// took, in one statement.
    async fn publish(&self, events: &[(Uuid, Envelope)]) -> DomainResult<()> {
        let publishes = events
            .iter()
            .map(|(_, envelope)| self.publish_one(envelope));
        let results = join_all(publishes).await;
        // From commit to publication, on the injected clock (events carry its
        // time), so a test that moves the clock sees the lag it made.
        let now: DateTime<Utc> = self.services.clock().now();
        let lag = metrics::histogram!("orbit_relay_lag_seconds");
        let mut published = Vec::with_capacity(events.len());
        for ((id, envelope), result) in events.iter().zip(results) {
            match result {
                Ok(()) => {
                    published.push(*id);
                    let lag_ms = (now - envelope.occurred_at).num_milliseconds().max(0);
                    lag.record(lag_ms as f64 / 1000.0);
                }
                Err(error) => {
                    tracing::warn!(%error, topic = %envelope.topic, "the broker refused an event; the sweep will retry it");
                }
            }
        }
        metrics::counter!("orbit_relay_published_total").increment(published.len() as u64);
        outbox::mark_published(self.services.db(), &published).await?;
        Ok(())
    }

    /// On the event's topic and, for an end of credentials, on the topic
    /// every process listens to for those.
    async fn publish_one(&self, envelope: &Envelope) -> Result<(), BrokerError> {
        let encoded = envelope.encode();
        if envelope.event.ends_credentials() {
            self.broker
                .publish(crate::credentials::TOPIC, encoded.clone())
                .await?;
        }
        self.broker.publish(&envelope.topic, encoded).await
    }

    async fn prune(&self, retention: ChronoDuration) {
        let before = self.services.clock().now() - retention;
        match outbox::prune(self.services.db(), before).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned events past their retention"),
            Err(error) => tracing::warn!(%error, "pruning old events failed"),
        }
    }
}
