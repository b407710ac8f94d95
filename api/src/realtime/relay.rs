//! The outbox relay: publishes committed events to the broker.
//!
//! What this process commits reaches the relay straight from the commit
//! (`Db::committed_events`): it publishes those events as they were written,
//! without reading them back, and hands their IDs to a task of its own that
//! clears their markers in `unpublished_events`, gathering them for up to
//! `CLEAR_WITHIN` into one statement: publishing never waits on a delete,
//! and the deletes stay few however fast events come. A sweep every
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
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use super::envelope::Envelope;
use crate::Services;

/// Events read per round trip by the sweep.
const SWEEP_BATCH: u64 = 500;
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long published events' markers are gathered before one statement
/// clears them. Far below the sweep's interval (a marker is republished
/// only once two sweeps saw it), long enough that at a thousand events a
/// second the relay deletes about fifty times a second instead of after
/// every small batch.
const CLEAR_WITHIN: Duration = Duration::from_millis(20);
/// Markers cleared by one statement at most.
const MOST_MARKERS_A_CLEAR: usize = 1_000;

/// Runs until `stop` flips to true, then publishes what it still holds and
/// waits while the markers of all it published are cleared.
pub async fn run(
    services: Services,
    broker: Broker,
    retention: ChronoDuration,
    sweep_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let (published, to_clear) = mpsc::unbounded_channel();
    let clearing = tokio::spawn(clear_markers(services.clone(), to_clear));
    let mut relay = Relay {
        services,
        broker,
        seen_at_last_sweep: HashSet::new(),
        published,
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
            _ = stop.changed() => return relay.finish(clearing).await,
        }
        if *stop.borrow() {
            return relay.finish(clearing).await;
        }
    }
}

/// Clears the markers of published events, gathered for up to
/// `CLEAR_WITHIN`, until the relay hangs up; then clears what is left. A
/// failure leaves those markers for the sweep, which publishes their events
/// again (feeds drop the repeats).
async fn clear_markers(services: Services, mut published: mpsc::UnboundedReceiver<Vec<Uuid>>) {
    while let Some(mut ids) = published.recv().await {
        let gathered_by = Instant::now() + CLEAR_WITHIN;
        while ids.len() < MOST_MARKERS_A_CLEAR {
            match tokio::time::timeout_at(gathered_by, published.recv()).await {
                Ok(Some(more)) => ids.extend(more),
                // The relay hung up (it is stopping) or the time is up.
                Ok(None) | Err(_) => break,
            }
        }
        for batch in ids.chunks(MOST_MARKERS_A_CLEAR) {
            if let Err(error) = outbox::mark_published(services.db(), batch).await {
                tracing::warn!(%error, markers = batch.len(), "could not clear published events' markers; the sweep will publish them again");
            }
        }
    }
}

struct Relay {
    services: Services,
    broker: Broker,
    /// Markers the last sweep found, published only if this one finds them
    /// again.
    seen_at_last_sweep: HashSet<Uuid>,
    /// To `clear_markers`: the IDs of events the broker took.
    published: mpsc::UnboundedSender<Vec<Uuid>>,
}

impl Relay {
    /// Publishes what its process still handed it, and waits until the
    /// markers of everything published are cleared.
    async fn finish(self, clearing: JoinHandle<()>) {
        self.publish_committed().await;
        drop(self);
        if let Err(error) = clearing.await {
            tracing::warn!(%error, "clearing published events' markers failed");
        }
    }

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
        let published = self.publish(&envelopes).await;
        // Only fails once `clear_markers` ended, which it does after the
        // relay; the markers would then wait for the sweep.
        let _ = self.published.send(published);
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
            // Cleared before the next sweep reads, so none is published twice
            // by the sweep itself.
            let published = self.publish(&stale).await;
            outbox::mark_published(self.services.db(), &published).await?;
        }
        Ok(())
    }

    /// Publishes `events` in order; answers the IDs of those the broker took.
    async fn publish(&self, events: &[(Uuid, Envelope)]) -> Vec<Uuid> {
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
        published
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
