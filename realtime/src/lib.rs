//! The real-time broker: topics fanned out to local subscribers, in process
//! or across processes over Redis pub/sub.
//!
//! Every local subscriber of a topic shares one `broadcast` channel, so a
//! message is decoded once and its bytes are shared, never copied per
//! subscriber. With Redis, the process holds one pub/sub connection and one
//! `SUBSCRIBE` per topic that has local subscribers: the first subscriber
//! subscribes, the last one to leave unsubscribes.
//!
//! On a Redis Cluster (a `redis+cluster://` URL) topics go over sharded
//! pub/sub instead: `SPUBLISH`, and one `SSUBSCRIBE` per topic on the master
//! that serves the topic's slot (see `cluster_link`).
//!
//! Delivery is best effort. A subscriber learns that it may have missed
//! something (it lagged behind, or the Redis link dropped) by a
//! [`Delivery::Gap`], and re-reads its source of truth.

mod cluster_link;
mod cluster_url;
mod command_connection;
mod presence;
mod redis_link;
mod registry;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::cluster::ClusterClientBuilder;
use tokio::sync::{broadcast, mpsc, oneshot};

use command_connection::{ClusterCommands, CommandConnection};
pub use presence::{Presence, PresenceStatus, PresenceUser};
use registry::Registry;

/// Messages a slow subscriber may fall behind by before it gets a `Gap`.
pub const DEFAULT_CAPACITY: usize = 1024;
/// A publish that Redis does not confirm within this time fails; the caller
/// (the outbox relay) retries later.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command on a cluster may go unanswered before the
/// connection is taken for wedged and replaced: within `PUBLISH_TIMEOUT`,
/// so that a publish that timed out replaces it too.
const CLUSTER_COMMAND_TIMEOUT: Duration = Duration::from_millis(1500);
/// Tries of one command on a cluster (redirects and reconnects included)
/// before it fails: its caller's own retry (the relay's, presence's next
/// tick) takes over from there.
const CLUSTER_RETRIES: u32 = 3;

#[derive(Debug, Clone)]
pub enum Delivery {
    Message(Bytes),
    /// Messages may have been missed on this topic, all of them published
    /// before `since` (when the link came back, or the lag was found): a
    /// read of the source of truth begun at or after `since` holds them.
    Gap {
        since: Instant,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("the Redis URL is not valid: {0}")]
    InvalidUrl(String),
    #[error("Redis did not take the message: {0}")]
    Publish(String),
    #[error("a Redis command failed: {0}")]
    Command(String),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// One per process; clones share it.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    redis: Option<RedisSide>,
}

struct RedisSide {
    publisher: CommandConnection,
    commands: mpsc::UnboundedSender<redis_link::Command>,
    connected: Arc<AtomicBool>,
}

impl Broker {
    /// Fan-out in memory only: one server.
    pub fn in_process() -> Self {
        Self::in_process_with_capacity(DEFAULT_CAPACITY)
    }

    pub fn in_process_with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: Arc::new(Registry::new(capacity)),
                redis: None,
            }),
        }
    }

    /// Redis pub/sub; sharded pub/sub on a Redis Cluster, when `url` is
    /// `redis+cluster://host:port[,host:port...]` (any of its nodes). Never
    /// waits for Redis: it connects in the background and keeps trying, so
    /// a server starts while Redis is down. Only a malformed URL is an
    /// error.
    pub fn redis(url: &str) -> Result<Self, BrokerError> {
        if cluster_url::names_a_cluster(url) {
            return Self::redis_cluster(url);
        }
        let client = redis::Client::open(url).map_err(|e| BrokerError::InvalidUrl(redacted(&e)))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PUBLISH_TIMEOUT))
            .set_response_timeout(Some(PUBLISH_TIMEOUT))
            .set_number_of_retries(1);
        let publisher = redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| BrokerError::InvalidUrl(redacted(&e)))?;
        Ok(Self::over_redis(
            CommandConnection::Single(publisher),
            |registry, commands, connected| redis_link::run(client, registry, commands, connected),
        ))
    }

    /// [`Broker::redis`] on a Redis Cluster: commands (`SPUBLISH`,
    /// presence) on the redis crate's cluster connection, which routes each
    /// to its slot's master and follows failovers; subscriptions on a link
    /// of their own, one connection per master (`cluster_link`).
    fn redis_cluster(url: &str) -> Result<Self, BrokerError> {
        let nodes = cluster_url::ClusterNodes::parse(url).map_err(BrokerError::InvalidUrl)?;
        let client = ClusterClientBuilder::new(nodes.seed_urls())
            .connection_timeout(CLUSTER_COMMAND_TIMEOUT)
            .response_timeout(CLUSTER_COMMAND_TIMEOUT)
            // Each command bounds its own wait (see `ClusterCommands`).
            .overall_response_timeout(None)
            .retries(CLUSTER_RETRIES)
            .build()
            .map_err(|e| BrokerError::InvalidUrl(redacted(&e)))?;
        let publisher = ClusterCommands::new(client, CLUSTER_COMMAND_TIMEOUT);
        Ok(Self::over_redis(
            CommandConnection::Cluster(Arc::new(publisher)),
            |registry, commands, connected| cluster_link::run(nodes, registry, commands, connected),
        ))
    }

    /// A broker whose commands go over `publisher` and whose subscriptions
    /// are kept by the pub/sub link `link` starts (in the background, for
    /// as long as the broker lives).
    fn over_redis<Link>(
        publisher: CommandConnection,
        link: impl FnOnce(
            std::sync::Weak<Registry>,
            mpsc::UnboundedReceiver<redis_link::Command>,
            Arc<AtomicBool>,
        ) -> Link,
    ) -> Self
    where
        Link: std::future::Future<Output = ()> + Send + 'static,
    {
        let registry = Arc::new(Registry::new(DEFAULT_CAPACITY));
        let connected = Arc::new(AtomicBool::new(false));
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(link(Arc::downgrade(&registry), receiver, connected.clone()));
        Self {
            inner: Arc::new(Inner {
                registry,
                redis: Some(RedisSide {
                    publisher,
                    commands,
                    connected,
                }),
            }),
        }
    }

    /// Sends `payload` to every subscriber of `topic` on every process.
    pub async fn publish(&self, topic: &str, payload: Bytes) -> Result<(), BrokerError> {
        let Some(redis) = &self.inner.redis else {
            metrics::counter!("orbit_broker_published_total", "broker" => "in_process", "outcome" => "ok")
                .increment(1);
            // Received: it reached a topic this process listens to (as with
            // Redis, which sends a process only the topics it subscribed).
            if self
                .inner
                .registry
                .deliver(topic, Delivery::Message(payload))
            {
                metrics::counter!("orbit_broker_received_total", "broker" => "in_process")
                    .increment(1);
            }
            return Ok(());
        };
        let mut publisher = redis.publisher.clone();
        // On a cluster, sharded: the message crosses only the topic's shard.
        let mut command = redis::cmd(match publisher {
            CommandConnection::Single(_) => "PUBLISH",
            CommandConnection::Cluster(_) => "SPUBLISH",
        });
        command.arg(topic).arg(payload.as_ref());
        let publish = command.query_async::<i64>(&mut publisher);
        let (outcome, result) = match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
            Ok(Ok(_receivers)) => ("ok", Ok(())),
            Ok(Err(error)) => ("error", Err(BrokerError::Publish(redacted(&error)))),
            Err(_) => ("timeout", Err(BrokerError::Timeout(PUBLISH_TIMEOUT))),
        };
        metrics::counter!("orbit_broker_published_total", "broker" => "redis", "outcome" => outcome)
            .increment(1);
        result
    }

    /// Subscribes to `topic`. With Redis this returns once the process's
    /// `SUBSCRIBE` is confirmed, so a message published afterwards reaches
    /// it; while Redis is down it returns at once and the subscription gets
    /// a `Gap` when the link is back.
    pub async fn subscribe(&self, topic: &str) -> Subscription {
        let (receiver, first) = self.inner.registry.join(topic);
        if first && let Some(redis) = &self.inner.redis {
            let (ack, acked) = oneshot::channel();
            if redis
                .commands
                .send(redis_link::Command::Subscribe(topic.to_owned(), ack))
                .is_ok()
            {
                let _ = acked.await;
            }
        }
        Subscription {
            topic: topic.to_owned(),
            receiver,
            broker: self.inner.clone(),
        }
    }

    /// Presence kept where this broker's messages go: in this process, or
    /// in Redis under keys that start with `prefix` (on a cluster, with
    /// `prefix` as their hash tag: `{prefix}:presence:...`). Connections
    /// lapse `ttl` after their last renewal.
    pub fn presence(&self, prefix: &str, ttl: Duration) -> Presence {
        match &self.inner.redis {
            Some(
                redis @ RedisSide {
                    publisher: CommandConnection::Cluster(_),
                    ..
                },
            ) => Presence::redis(
                redis.publisher.clone(),
                &presence::one_slot_prefix(prefix),
                ttl,
            ),
            Some(redis) => Presence::redis(redis.publisher.clone(), prefix, ttl),
            None => Presence::in_process(ttl),
        }
    }

    /// Topics with local subscribers.
    pub fn local_topic_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Whether the Redis link is up (always true in process). On a cluster:
    /// the cluster served every slot when the link opened, every topic with
    /// local subscribers is subscribed on its slot's master, and no
    /// master's connection has closed since.
    pub fn is_connected(&self) -> bool {
        self.inner
            .redis
            .as_ref()
            .is_none_or(|redis| redis.connected.load(Ordering::Relaxed))
    }
}

/// A URL may hold a password; errors name the problem, not the URL.
pub(crate) fn redacted(error: &redis::RedisError) -> String {
    format!(
        "{:?}: {}",
        error.kind(),
        error.detail().unwrap_or("no detail")
    )
}

/// A subscriber of one topic. Dropping it leaves the topic.
pub struct Subscription {
    topic: String,
    receiver: broadcast::Receiver<Delivery>,
    broker: Arc<Inner>,
}

impl Subscription {
    /// The next delivery; `None` only when the broker is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        match self.receiver.recv().await {
            Ok(delivery) => Some(delivery),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Delivery::Gap {
                since: Instant::now(),
            }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let last = self.broker.registry.leave(&self.topic);
        if last && let Some(redis) = &self.broker.redis {
            let _ = redis
                .commands
                .send(redis_link::Command::Unsubscribe(self.topic.clone()));
        }
    }
}
