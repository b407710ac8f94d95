//! The outbox relay: publishes committed events to the broker.
//!
//! It wakes straight after each commit (the database signals it) and also
//! sweeps on a timer, which catches events committed by another process
//! whose publish failed, or written just before a crash. An event leaves
//! `unpublished_events` only after the broker took it, so delivery is at
//! least once; subscribers drop duplicates by sequence.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use futures::future::join_all;
use orbit_persistence::outbox;
use orbit_realtime::Broker;
use tokio::sync::watch;
use tracing::Instrument;

use super::envelope::Envelope;
use crate::Services;

/// Events published per round trip to the database.
const BATCH: u64 = 500;
/// How often to look for events nobody signalled (another process's, or a crash's).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs until `stop` flips to true.
pub async fn run(
    services: Services,
    broker: Broker,
    retention: ChronoDuration,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(50);
    let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
    loop {
        match publish_pending(&services, &broker).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "outbox relay could not publish; will retry");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {},
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            let before = services.clock().now() - retention;
            match outbox::prune(services.db(), before).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "pruned events past their retention"),
                Err(error) => tracing::warn!(%error, "pruning old events failed"),
            }
        }
        tokio::select! {
            () = services.db().committed().notified() => {},
            () = tokio::time::sleep(SWEEP_EVERY) => {},
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("reading unpublished events: {0}")]
    Database(#[from] orbit_domain::DomainError),
    #[error("publishing: {0}")]
    Broker(#[from] orbit_realtime::BrokerError),
}

/// Publishes everything waiting, a batch at a time. Within a batch events
/// are published in order; a failure leaves the rest for the next try.
async fn publish_pending(services: &Services, broker: &Broker) -> Result<(), RelayError> {
    loop {
        let batch = outbox::unpublished(services.db(), BATCH).await?;
        if batch.is_empty() {
            return Ok(());
        }
        let span = tracing::info_span!("relay_batch", events = batch.len());
        let done = publish_batch(services, broker, &batch)
            .instrument(span)
            .await?;
        if done {
            return Ok(());
        }
    }
}

/// Publishes one batch and marks what the broker took; `true` when it was
/// the last (shorter than [`BATCH`]).
async fn publish_batch(
    services: &Services,
    broker: &Broker,
    batch: &[orbit_domain::entities::event::Model],
) -> Result<bool, RelayError> {
    // Webhook deliveries and routine runs are written with events: new
    // events may mean work for the worker.
    services.wake_worker();
    let publishes = batch.iter().map(|event| {
        let envelope = Envelope::stored(event);
        broker.publish(&event.topic, envelope.encode())
    });
    let results = join_all(publishes).await;
    // From commit to publication, on the injected clock (events carry its
    // time), so a test that moves the clock sees the lag it made.
    let now = services.clock().now();
    let lag = metrics::histogram!("orbit_relay_lag_seconds");
    let mut published = Vec::with_capacity(batch.len());
    let mut failure = None;
    for (event, result) in batch.iter().zip(results) {
        match result {
            Ok(()) => {
                published.push(event.id);
                let lag_ms = (now - event.occurred_at).num_milliseconds().max(0);
                lag.record(lag_ms as f64 / 1000.0);
            }
            Err(error) => {
                failure.get_or_insert(error);
            }
        }
    }
    outbox::mark_published(services.db(), &published).await?;
    metrics::counter!("orbit_relay_published_total").increment(published.len() as u64);
    if let Some(error) = failure {
        return Err(error.into());
    }
    Ok((batch.len() as u64) < BATCH)
}
