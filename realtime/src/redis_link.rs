//! The process's one Redis pub/sub connection: subscribes and unsubscribes
//! as topics gain their first and lose their last local subscriber, hands
//! each message to the topic's broadcast channel, and reconnects with
//! backoff when the link drops, re-subscribing what is still wanted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::Delivery;
use crate::registry::Registry;

pub(crate) enum Command {
    /// Acknowledged once Redis confirmed (or at once while it is down).
    Subscribe(String, oneshot::Sender<()>),
    Unsubscribe(String),
}

pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(50);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs until the broker is dropped (its command sender closes).
pub(crate) async fn run(
    client: redis::Client,
    registry: Weak<Registry>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    connected: Arc<AtomicBool>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let link = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await;
        let Ok(Ok(pubsub)) = link else {
            if !wait_while_down(&mut commands, jittered(backoff)).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        };
        let (mut sink, mut messages) = pubsub.split();
        let Some(registry_now) = registry.upgrade() else {
            return;
        };
        let wanted = registry_now.topics();
        if !wanted.is_empty() && sink.subscribe(&wanted).await.is_err() {
            continue;
        }
        connected.store(true, Ordering::Relaxed);
        backoff = FIRST_BACKOFF;
        tracing::info!(topics = wanted.len(), "Redis pub/sub link is up");
        // Whatever was published while the link was down is lost to it.
        registry_now.gap_everywhere();
        drop(registry_now);

        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let Some(registry) = registry.upgrade() else { return };
                    metrics::counter!("orbit_broker_received_total", "broker" => "redis").increment(1);
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    registry.deliver(message.get_channel_name(), Delivery::Message(payload));
                }
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let Some(registry) = registry.upgrade() else { return };
                    let outcome = match command {
                        Command::Subscribe(topic, ack) => {
                            let outcome = sink.subscribe(&topic).await;
                            let _ = ack.send(());
                            outcome
                        }
                        // A new subscriber may have come since the last left.
                        Command::Unsubscribe(topic) if !registry.contains(&topic) => {
                            sink.unsubscribe(&topic).await
                        }
                        Command::Unsubscribe(_) => Ok(()),
                    };
                    if outcome.is_err() {
                        break;
                    }
                }
            }
        }
        connected.store(false, Ordering::Relaxed);
        tracing::warn!("Redis pub/sub link dropped; reconnecting");
    }
}

/// While Redis is down, subscribers are acknowledged at once (they get a
/// `Gap` when the link is back). Returns false once the broker is gone.
pub(crate) async fn wait_while_down(
    commands: &mut mpsc::UnboundedReceiver<Command>,
    pause: Duration,
) -> bool {
    let deadline = tokio::time::sleep(pause);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return true,
            command = commands.recv() => match command {
                None => return false,
                Some(Command::Subscribe(_, ack)) => { let _ = ack.send(()); }
                Some(Command::Unsubscribe(_)) => {}
            }
        }
    }
}

/// Spreads reconnects of many processes apart.
pub(crate) fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}
