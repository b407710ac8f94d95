//! Tells the other processes which queues a commit here wrote to, and wakes
//! this process's worker loops when another one did: a commit that queued
//! an agent's reply wakes the reply loops everywhere, and nothing else.
//! The worker's idle sweep still catches what a lost message leaves.

use bytes::Bytes;
use orbit_persistence::queues::{Queue, QueueSet};
use orbit_realtime::{Broker, Delivery};
use tokio::sync::watch;

use crate::Services;

/// The broker topic work signals travel on (apart from every app's topics,
/// which all have a `kind:` prefix of their own).
const TOPIC: &str = "orbit:work";

/// Runs until `stop` flips to true.
pub async fn run(services: Services, mut stop: watch::Receiver<bool>) {
    let broker = services.broker().clone();
    let mut incoming = broker.subscribe(TOPIC).await;
    let work = services.db().work().clone();
    loop {
        tokio::select! {
            queues = work.next_outgoing() => publish(&broker, queues).await,
            delivery = incoming.recv() => match delivery {
                Some(Delivery::Message(bytes)) => work.wake_local(decode(&bytes)),
                // Missed signals may have named any queue.
                Some(Delivery::Gap { .. }) => work.wake_local(QueueSet::all()),
                None => return,
            },
            _ = stop.changed() => return,
        }
    }
}

async fn publish(broker: &Broker, queues: QueueSet) {
    if let Err(error) = broker.publish(TOPIC, encode(queues)).await {
        // The other processes find the work at their next sweep.
        tracing::debug!(%error, "could not tell other processes of queued work");
    }
}

fn encode(queues: QueueSet) -> Bytes {
    let names: Vec<&str> = queues.iter().map(Queue::as_str).collect();
    Bytes::from(names.join(","))
}

fn decode(bytes: &[u8]) -> QueueSet {
    let mut queues = QueueSet::default();
    for name in String::from_utf8_lossy(bytes).split(',') {
        if let Some(queue) = Queue::parse(name) {
            queues.insert(queue);
        }
    }
    queues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_sets_survive_the_wire_and_unknown_names_are_ignored() {
        let mut queues = QueueSet::of(Queue::WebhookDeliveries);
        queues.insert(Queue::AgentReplies);
        assert_eq!(decode(&encode(queues)), queues);
        assert_eq!(
            decode(b"teleports,routine_runs"),
            QueueSet::of(Queue::RoutineRuns)
        );
        assert!(decode(b"").is_empty());
    }
}
