//! The process's pub/sub link to a Redis Cluster: sharded pub/sub (Redis
//! 7's `SSUBSCRIBE`), one subscription per topic that has local
//! subscribers, held on the master that serves the topic's slot, so each
//! message crosses only its own shard rather than every node.
//!
//! The link keeps a connection of its own to each master, routed by a
//! topology it read itself, rather than the redis crate's cluster
//! connection: that one repairs and re-subscribes in the background, where
//! nothing tells a subscriber which subscriptions lapsed meanwhile nor when
//! they are back. Here any sign that a subscription may have lapsed (a
//! master's connection closed, or a master dropped a topic still wanted
//! because its slot moved or it became a replica) makes the link start over
//! as the single-node link does after a reconnect: it reads the topology as
//! it is now, connects to each master, subscribes every wanted topic again,
//! and only then sends every local subscriber a `Gap`, so a feed's catch-up
//! read begins after its topic is heard again and nothing falls between.
//! While a failed master's replica has not yet taken over, the topology
//! still names the dead master (or the cluster says it is failing), so the
//! link stays down and says so until the failover is over.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use crate::Delivery;
use crate::cluster_url::ClusterNodes;
use crate::redis_link::{Command, FIRST_BACKOFF, MAX_BACKOFF, jittered, wait_while_down};
use crate::registry::Registry;

/// Opening the link: reading the topology, connecting, subscribing.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// One connection or command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Subscriptions in flight at once while the link opens: a slot each, so
/// they cannot share one `SSUBSCRIBE`.
const SUBSCRIBING_AT_ONCE: usize = 64;
/// Hash slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// Where a node listens: host (as the cluster names it) and port.
type NodeAddress = (String, u16);

/// Runs until the broker is dropped (its command sender closes).
pub(crate) async fn run(
    nodes: ClusterNodes,
    registry: Weak<Registry>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    connected: Arc<AtomicBool>,
) {
    let mut backoff = FIRST_BACKOFF;
    // Masters last seen, asked for the topology when no seed answers.
    let mut known_masters = Vec::new();
    loop {
        let Some(wanted) = registry.upgrade().map(|registry| registry.topics()) else {
            return;
        };
        // A channel per link: pushes of connections given up on, their
        // closing included, are never read.
        let (push_sender, mut pushes) = mpsc::unbounded_channel();
        let opened = tokio::time::timeout(
            OPEN_TIMEOUT,
            Link::open(&nodes, &known_masters, push_sender, wanted.clone()),
        )
        .await;
        let link = match opened {
            Ok(Ok(link)) => link,
            failed => {
                let reason = failed.unwrap_or_else(|_| Err("it took too long".to_owned()));
                tracing::debug!(reason = ?reason.err(), "could not open the Redis Cluster pub/sub link");
                if !wait_while_down(&mut commands, jittered(backoff)).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        known_masters = link.shards.keys().cloned().collect();
        let Some(registry_now) = registry.upgrade() else {
            return;
        };
        let opened_at = Instant::now();
        connected.store(true, Ordering::Relaxed);
        tracing::info!(
            topics = wanted.len(),
            masters = link.shards.len(),
            "Redis Cluster pub/sub link is up"
        );
        // Whatever was published while the link was down is lost to it.
        registry_now.gap_everywhere();
        drop(registry_now);

        let mut own_unsubscribes = OwnUnsubscribes::default();
        loop {
            tokio::select! {
                push = pushes.recv() => {
                    let Some(push) = push else { break };
                    let Some(registry) = registry.upgrade() else { return };
                    if !take_push(&registry, push, &mut own_unsubscribes) {
                        break;
                    }
                }
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let Some(registry) = registry.upgrade() else { return };
                    let done = match command {
                        Command::Subscribe(topic, ack) => {
                            let done = link.subscribe(&topic).await;
                            let _ = ack.send(());
                            done
                        }
                        // A new subscriber may have come since the last left.
                        Command::Unsubscribe(topic) if !registry.contains(&topic) => {
                            own_unsubscribes.expect(&topic);
                            link.unsubscribe(&topic).await
                        }
                        Command::Unsubscribe(_) => Ok(()),
                    };
                    if let Err(problem) = done {
                        tracing::debug!(%problem, "a Redis Cluster subscription failed");
                        break;
                    }
                }
            }
        }
        connected.store(false, Ordering::Relaxed);
        tracing::warn!(
            "a Redis Cluster master's link dropped or a subscription moved; reconnecting"
        );
        if opened_at.elapsed() < MAX_BACKOFF {
            // A link that keeps failing soon after it opens is not reopened
            // in a tight loop.
            if !wait_while_down(&mut commands, jittered(backoff)).await {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        } else {
            backoff = FIRST_BACKOFF;
        }
    }
}

/// The masters, as one topology read named them, each with a connection.
struct Link {
    /// `(first slot, last slot, master)`.
    slots: Vec<(u16, u16, NodeAddress)>,
    shards: HashMap<NodeAddress, MultiplexedConnection>,
}

impl Link {
    /// Reads the topology, connects to every master (RESP3, whose pushes
    /// carry sharded messages on a connection that takes commands too) and
    /// subscribes every wanted topic.
    async fn open(
        nodes: &ClusterNodes,
        known_masters: &[NodeAddress],
        pushes: mpsc::UnboundedSender<PushInfo>,
        wanted: Vec<String>,
    ) -> Result<Self, String> {
        let slots = read_topology(nodes, known_masters).await?;
        let mut masters: Vec<NodeAddress> =
            slots.iter().map(|(_, _, master)| master.clone()).collect();
        masters.sort();
        masters.dedup();
        let connecting = masters.into_iter().map(|master| {
            let url = format!("{}/?protocol=resp3", nodes.node_url(&master.0, master.1));
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(COMMAND_TIMEOUT))
                .set_response_timeout(Some(COMMAND_TIMEOUT))
                .set_push_sender(pushes.clone());
            async move {
                let client = redis::Client::open(url).map_err(|error| crate::redacted(&error))?;
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|error| {
                        format!(
                            "master {}:{}: {}",
                            master.0,
                            master.1,
                            crate::redacted(&error)
                        )
                    })?;
                Ok::<_, String>((master, connection))
            }
        });
        let shards = futures::future::try_join_all(connecting)
            .await?
            .into_iter()
            .collect();
        let link = Self { slots, shards };
        let subscriptions = wanted
            .into_iter()
            .map(|topic| Ok((link.connection_for(&topic)?, topic)))
            .collect::<Result<Vec<_>, String>>()?;
        let mut subscribing = futures::stream::iter(subscriptions)
            .map(|(connection, topic)| {
                confirm(connection, topic, "SSUBSCRIBE", PushKind::SSubscribe)
            })
            .buffer_unordered(SUBSCRIBING_AT_ONCE);
        while let Some(subscribed) = subscribing.next().await {
            subscribed?;
        }
        Ok(link)
    }

    fn connection_for(&self, topic: &str) -> Result<MultiplexedConnection, String> {
        let slot = key_slot(topic.as_bytes());
        self.slots
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .and_then(|(_, _, master)| self.shards.get(master))
            .cloned()
            .ok_or_else(|| format!("no master serves slot {slot}"))
    }

    /// `SSUBSCRIBE` on the topic's master, confirmed.
    async fn subscribe(&self, topic: &str) -> Result<(), String> {
        let connection = self.connection_for(topic)?;
        confirm(
            connection,
            topic.to_owned(),
            "SSUBSCRIBE",
            PushKind::SSubscribe,
        )
        .await
    }

    async fn unsubscribe(&self, topic: &str) -> Result<(), String> {
        let connection = self.connection_for(topic)?;
        confirm(
            connection,
            topic.to_owned(),
            "SUNSUBSCRIBE",
            PushKind::SUnsubscribe,
        )
        .await
    }
}

/// Sends `command topic` and checks the answer confirms it: a master that
/// no longer serves the slot answers `MOVED` instead.
async fn confirm(
    mut connection: MultiplexedConnection,
    topic: String,
    command: &'static str,
    confirmation: PushKind,
) -> Result<(), String> {
    let mut request = redis::cmd(command);
    request.arg(&topic);
    let answer = tokio::time::timeout(COMMAND_TIMEOUT, connection.req_packed_command(&request))
        .await
        .map_err(|_| format!("{command} got no answer"))?
        .map_err(|error| crate::redacted(&error))?;
    match answer {
        Value::Push { kind, data }
            if kind == confirmation && channel_of(&data) == Some(topic.as_str()) =>
        {
            Ok(())
        }
        Value::ServerError(error) => Err(format!("{command}: {error:?}")),
        other => Err(format!("{command} was answered {other:?}")),
    }
}

/// The slot ranges and their masters, from the first node that answers and
/// says every slot is served (`cluster_state:ok`): until a failed master's
/// replica took over, the link stays down rather than open with that
/// shard's topics unheard.
async fn read_topology(
    nodes: &ClusterNodes,
    known_masters: &[NodeAddress],
) -> Result<Vec<(u16, u16, NodeAddress)>, String> {
    let mut last_problem = "the cluster URL names no node".to_owned();
    for (host, port) in nodes.seeds().iter().chain(known_masters) {
        match topology_from(nodes, host, *port).await {
            Ok(slots) => return Ok(slots),
            Err(problem) => last_problem = format!("{host}:{port}: {problem}"),
        }
    }
    Err(last_problem)
}

async fn topology_from(
    nodes: &ClusterNodes,
    host: &str,
    port: u16,
) -> Result<Vec<(u16, u16, NodeAddress)>, String> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    let client =
        redis::Client::open(nodes.node_url(host, port)).map_err(|error| crate::redacted(&error))?;
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(|error| crate::redacted(&error))?;
    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut connection)
        .await
        .map_err(|error| crate::redacted(&error))?;
    if !info.lines().any(|line| line.trim() == "cluster_state:ok") {
        return Err("the cluster does not serve every slot".to_owned());
    }
    let slots: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut connection)
        .await
        .map_err(|error| crate::redacted(&error))?;
    parse_slots(slots, host)
}

/// `CLUSTER SLOTS`: `[[first, last, [host, port, id, ...], replicas...], ...]`.
/// A master named with an empty host is on the node that answered.
fn parse_slots(slots: Value, answered: &str) -> Result<Vec<(u16, u16, NodeAddress)>, String> {
    let malformed = || "CLUSTER SLOTS answered in an unknown form".to_owned();
    let Value::Array(ranges) = slots else {
        return Err(malformed());
    };
    let mut parsed = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(range) = range else {
            return Err(malformed());
        };
        let [
            Value::Int(first),
            Value::Int(last),
            Value::Array(master),
            ..,
        ] = range.as_slice()
        else {
            return Err(malformed());
        };
        let [host, Value::Int(port), ..] = master.as_slice() else {
            return Err(malformed());
        };
        let host = match host {
            Value::BulkString(host) => String::from_utf8_lossy(host).into_owned(),
            Value::SimpleString(host) => host.clone(),
            _ => return Err(malformed()),
        };
        let host = if host.is_empty() || host == "?" {
            answered.to_owned()
        } else {
            host
        };
        let (Ok(first), Ok(last), Ok(port)) = (
            u16::try_from(*first),
            u16::try_from(*last),
            u16::try_from(*port),
        ) else {
            return Err(malformed());
        };
        parsed.push((first, last, (host, port)));
    }
    // Gaps would leave topics with no master to subscribe on.
    let covered: u32 = parsed
        .iter()
        .map(|(first, last, _)| u32::from(last.saturating_sub(*first)) + 1)
        .sum();
    if covered != u32::from(SLOTS) {
        return Err(format!("CLUSTER SLOTS covers {covered} of {SLOTS} slots"));
    }
    Ok(parsed)
}

/// The hash slot of a key (or shard channel): CRC16 (XMODEM) of its hash
/// tag, the part between the first `{` and the next `}` when that is not
/// empty, else of the whole key.
fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|byte| *byte == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|byte| *byte == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16_xmodem(tagged.unwrap_or(key)) % SLOTS
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for byte in bytes {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn channel_of(data: &[Value]) -> Option<&str> {
    match data.first() {
        Some(Value::BulkString(channel)) => std::str::from_utf8(channel).ok(),
        _ => None,
    }
}

/// Acts on a push from a master. False when the link must start over,
/// because a subscription may have lapsed.
fn take_push(registry: &Registry, push: PushInfo, own_unsubscribes: &mut OwnUnsubscribes) -> bool {
    match push.kind {
        PushKind::SMessage => {
            let mut data = push.data.into_iter();
            if let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
                (data.next(), data.next())
                && let Ok(topic) = std::str::from_utf8(&channel)
            {
                metrics::counter!("orbit_broker_received_total", "broker" => "redis").increment(1);
                registry.deliver(topic, Delivery::Message(Bytes::from(payload)));
            }
            true
        }
        // A master's connection closed, and its subscriptions with it.
        PushKind::Disconnection => false,
        PushKind::SUnsubscribe => match channel_of(&push.data) {
            Some(topic) if own_unsubscribes.confirms(topic) => true,
            // The master dropped a topic still wanted: its slot moved, or
            // the master is a replica now.
            Some(topic) => !registry.contains(topic),
            None => true,
        },
        _ => true,
    }
}

/// Topics this link unsubscribed from whose confirmation has not come yet:
/// any other `sunsubscribe` is the server's doing.
#[derive(Default)]
struct OwnUnsubscribes(HashMap<String, usize>);

impl OwnUnsubscribes {
    fn expect(&mut self, topic: &str) {
        *self.0.entry(topic.to_owned()).or_default() += 1;
    }

    /// Whether this confirmation answers one of this link's unsubscribes.
    fn confirms(&mut self, topic: &str) -> bool {
        let Some(waiting) = self.0.get_mut(topic) else {
            return false;
        };
        *waiting -= 1;
        if *waiting == 0 {
            self.0.remove(topic);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use redis::cluster_routing::Slot;

    use super::*;

    #[test]
    fn key_slots_are_redis_clusters() {
        // From the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag counts for nothing: the whole key is hashed.
        assert_eq!(
            Slot::new(key_slot(b"foo{}{bar}")),
            Some(Slot::for_key("foo{}{bar}"))
        );
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        for n in 0..2000 {
            let key = format!("thread:thr_{n:032x}");
            assert_eq!(
                Slot::new(key_slot(key.as_bytes())),
                Some(Slot::for_key(&key)),
                "{key}"
            );
        }
    }

    fn node(host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
        ])
    }

    #[test]
    fn cluster_slots_name_each_ranges_master() {
        let answer = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(8000),
                node("10.0.0.1", 7000),
                node("10.0.0.4", 7003),
            ]),
            Value::Array(vec![Value::Int(8001), Value::Int(16383), node("", 7001)]),
        ]);
        assert_eq!(
            parse_slots(answer, "seed").unwrap(),
            [
                (0, 8000, ("10.0.0.1".to_owned(), 7000)),
                (8001, 16383, ("seed".to_owned(), 7001)),
            ]
        );
        let partial = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(100),
            node("a", 1),
        ])]);
        assert!(
            parse_slots(partial, "seed")
                .unwrap_err()
                .contains("101 of 16384")
        );
    }
}
