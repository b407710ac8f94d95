//! Where the broker's commands go (publishes, presence): one Redis, or a
//! Redis Cluster, whose connection sends each command to the node serving
//! its key's slot and follows the cluster through failovers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

/// Clones share one connection (per node, on a cluster).
#[derive(Clone)]
pub(crate) enum CommandConnection {
    Single(ConnectionManager),
    Cluster(Arc<ClusterCommands>),
}

impl ConnectionLike for CommandConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(cluster) => Box::pin(
                cluster
                    .answer(async move |mut connection| connection.req_packed_command(cmd).await),
            ),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(cluster) => Box::pin(cluster.answer(async move |mut connection| {
                connection
                    .req_packed_commands(pipeline, offset, count)
                    .await
            })),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            // A cluster has database 0 only.
            Self::Cluster(_) => 0,
        }
    }
}

/// The cluster connection commands go over, replaced by a fresh one when it
/// stops answering.
///
/// The redis crate's cluster connection (1.8) can wedge for good when a
/// master dies under many commands in flight: its slot refresh never ends,
/// and every later command times out though the cluster recovered. A fresh
/// connection reads the topology anew, so a command that gets no answer at
/// all (an error is an answer) starts one for the commands after it.
pub(crate) struct ClusterCommands {
    client: ClusterClient,
    timeout: Duration,
    /// The connection and how many were replaced before it, so that the
    /// commands that timed out on one replace it once.
    current: Mutex<(u64, ClusterConnection)>,
}

impl ClusterCommands {
    /// Connects in the background; a command waits at most `timeout`.
    /// `client` must set no overall response timeout of its own: a
    /// command the connection gave up on must not pass for an answer.
    pub(crate) fn new(client: ClusterClient, timeout: Duration) -> Self {
        let connection = Self::connect(&client, timeout);
        Self {
            client,
            timeout,
            current: Mutex::new((0, connection)),
        }
    }

    fn connect(client: &ClusterClient, timeout: Duration) -> ClusterConnection {
        client.get_pending_async_connection_with_config(
            ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, ClusterConnection)> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn answer<T>(
        &self,
        command: impl AsyncFnOnce(ClusterConnection) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let (generation, connection) = {
            let current = self.lock();
            (current.0, current.1.clone())
        };
        match tokio::time::timeout(self.timeout, command(connection)).await {
            Ok(answer) => answer,
            Err(_) => {
                self.replace(generation);
                Err(RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the Redis Cluster did not answer in time",
                )))
            }
        }
    }

    fn replace(&self, generation: u64) {
        let mut current = self.lock();
        if current.0 == generation {
            tracing::warn!(
                "a Redis Cluster command got no answer; connecting to the cluster afresh"
            );
            *current = (generation + 1, Self::connect(&self.client, self.timeout));
        }
    }
}
