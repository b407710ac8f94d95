//! Presence: which users have a socket open, on any process.
//!
//! Every open socket of a user is a *connection* with an expiry, which the
//! process holding the socket renews well before it lapses. A process that
//! dies stops renewing, so its connections lapse and some other process's
//! sweep finds them. A user is online while they have a live connection
//! (away if they said so), and offline otherwise.
//!
//! Operations that change a user's status say so in their result, and only
//! the operation that made the change does: the caller announces it, so each
//! change is announced once across all processes. With Redis, each such
//! operation is one `MULTI` transaction over the user's connection set.
//!
//! On a Redis Cluster, every key of a transaction or pipeline must be in one
//! hash slot, and a pipeline here spans users (renewals, statuses) and the
//! index of lapses every user shares. So there every presence key carries
//! the prefix as its hash tag (see [`one_slot_prefix`]): one shard holds
//! all of a deployment's presence, a few small keys per online user, and
//! each operation stays the one transaction it is on a single Redis.
//!
//! Times are milliseconds since the epoch, passed in by the caller (whose
//! clock tests control).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::BrokerError;
use crate::command_connection::CommandConnection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

impl PresenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Online => "online",
            PresenceStatus::Away => "away",
            PresenceStatus::Offline => "offline",
        }
    }
}

/// A user of an app, by the IDs' text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PresenceUser {
    pub app: String,
    pub user: String,
}

/// Connections read in one sweep at most.
const SWEEP_BATCH: isize = 500;
/// Connections renewed per pipeline.
const RENEW_BATCH: usize = 1000;

/// One per process; clones share it.
#[derive(Clone)]
pub struct Presence {
    ttl_ms: i64,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(Arc<Mutex<HashMap<PresenceUser, UserPresence>>>),
    Redis {
        connection: CommandConnection,
        prefix: Arc<str>,
    },
}

#[derive(Default)]
struct UserPresence {
    /// Connection id → expiry.
    connections: HashMap<String, i64>,
    away: bool,
}

impl UserPresence {
    fn live(&self, now: i64) -> usize {
        self.connections.values().filter(|at| **at > now).count()
    }
}

impl Presence {
    /// Presence kept in this process only: one server.
    pub fn in_process(ttl: Duration) -> Self {
        Self {
            ttl_ms: millis(ttl),
            backend: Backend::Memory(Arc::default()),
        }
    }

    /// Presence kept in Redis under keys that start with `prefix`.
    pub(crate) fn redis(connection: CommandConnection, prefix: &str, ttl: Duration) -> Self {
        Self {
            ttl_ms: millis(ttl),
            backend: Backend::Redis {
                connection,
                prefix: Arc::from(prefix),
            },
        }
    }

    /// How long a connection lives without renewal.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.ttl_ms).unwrap_or(0))
    }

    /// A socket of `user` opened. `Some(Online)` when that made the user
    /// online (they had no live connection).
    pub async fn connect(
        &self,
        user: &PresenceUser,
        connection: &str,
        now: i64,
    ) -> Result<Option<PresenceStatus>, BrokerError> {
        let expires = now + self.ttl_ms;
        match &self.backend {
            Backend::Memory(users) => {
                let mut users = lock(users);
                let state = users.entry(user.clone()).or_default();
                state.connections.retain(|_, at| *at > now);
                let added = state
                    .connections
                    .insert(connection.to_owned(), expires)
                    .is_none();
                let first = added && state.connections.len() == 1;
                if first {
                    state.away = false;
                }
                Ok(first.then_some(PresenceStatus::Online))
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                let keys = Keys::new(prefix, user);
                let (added, count): (i64, i64) = redis::pipe()
                    .atomic()
                    .zrembyscore(&keys.connections, "-inf", now)
                    .ignore()
                    .zadd(&keys.connections, connection, expires)
                    .zcard(&keys.connections)
                    .pexpire(&keys.connections, self.ttl_ms)
                    .ignore()
                    .zadd(&keys.index, keys.index_member(connection), expires)
                    .ignore()
                    .pexpire(&keys.index, self.ttl_ms * 2)
                    .ignore()
                    .query_async(&mut redis.clone())
                    .await
                    .map_err(failed)?;
                let first = added == 1 && count == 1;
                if first {
                    // An away flag left by connections that lapsed.
                    let _: i64 = redis::cmd("DEL")
                        .arg(&keys.away)
                        .query_async(&mut redis.clone())
                        .await
                        .map_err(failed)?;
                }
                Ok(first.then_some(PresenceStatus::Online))
            }
        }
    }

    /// A socket closed. `Some(Offline)` when it was the user's last live one.
    pub async fn disconnect(
        &self,
        user: &PresenceUser,
        connection: &str,
        now: i64,
    ) -> Result<Option<PresenceStatus>, BrokerError> {
        match &self.backend {
            Backend::Memory(users) => {
                let mut users = lock(users);
                let Some(state) = users.get_mut(user) else {
                    return Ok(None);
                };
                let removed = state.connections.remove(connection).is_some();
                state.connections.retain(|_, at| *at > now);
                let last = removed && state.connections.is_empty();
                if state.connections.is_empty() {
                    users.remove(user);
                }
                Ok(last.then_some(PresenceStatus::Offline))
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                let keys = Keys::new(prefix, user);
                let (removed, count): (i64, i64) = redis::pipe()
                    .atomic()
                    .zrem(&keys.connections, connection)
                    .zrembyscore(&keys.connections, "-inf", now)
                    .ignore()
                    .zcard(&keys.connections)
                    .zrem(&keys.index, keys.index_member(connection))
                    .ignore()
                    .query_async(&mut redis.clone())
                    .await
                    .map_err(failed)?;
                after_removal(redis, &keys, removed == 1 && count == 0).await
            }
        }
    }

    /// Pushes the expiry of this process's connections ahead. Returns the
    /// users who were taken for gone meanwhile (their connections lapsed and
    /// were swept, say while Redis was unreachable) and are online again.
    pub async fn renew(
        &self,
        connections: &[(PresenceUser, String)],
        now: i64,
    ) -> Result<Vec<PresenceUser>, BrokerError> {
        let expires = now + self.ttl_ms;
        let mut back = Vec::new();
        match &self.backend {
            Backend::Memory(users) => {
                let mut users = lock(users);
                for (user, connection) in connections {
                    let state = users.entry(user.clone()).or_default();
                    let live_before = state.live(now);
                    let swept = state
                        .connections
                        .insert(connection.clone(), expires)
                        .is_none();
                    if swept && live_before == 0 {
                        state.away = false;
                        back.push(user.clone());
                    }
                }
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                for batch in connections.chunks(RENEW_BATCH) {
                    let mut pipe = redis::pipe();
                    for (user, connection) in batch {
                        let keys = Keys::new(prefix, user);
                        pipe.zadd(&keys.connections, connection, expires)
                            .pexpire(&keys.connections, self.ttl_ms)
                            .ignore()
                            .pexpire(&keys.away, self.ttl_ms)
                            .ignore()
                            .zadd(&keys.index, keys.index_member(connection), expires)
                            .ignore();
                    }
                    if let Some((user, _)) = batch.first() {
                        pipe.pexpire(Keys::new(prefix, user).index, self.ttl_ms * 2)
                            .ignore();
                    }
                    let added: Vec<i64> =
                        pipe.query_async(&mut redis.clone()).await.map_err(failed)?;
                    for ((user, connection), added) in batch.iter().zip(added) {
                        if added == 1
                            && only_connection(redis, &Keys::new(prefix, user), connection, now)
                                .await?
                        {
                            back.push(user.clone());
                        }
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        back.retain(|user| seen.insert(user.clone()));
        Ok(back)
    }

    /// Sets or clears the user's away flag. Only a user with a live
    /// connection has one: for anyone else this stores nothing and answers
    /// `Offline`. The flag goes when their last connection does. Returns the
    /// status and whether it changed.
    pub async fn set_away(
        &self,
        user: &PresenceUser,
        away: bool,
        now: i64,
    ) -> Result<(PresenceStatus, bool), BrokerError> {
        let status = if away {
            PresenceStatus::Away
        } else {
            PresenceStatus::Online
        };
        match &self.backend {
            Backend::Memory(users) => {
                let mut users = lock(users);
                match users.get_mut(user).filter(|state| state.live(now) > 0) {
                    None => Ok((PresenceStatus::Offline, false)),
                    Some(state) => {
                        let changed = state.away != away;
                        state.away = away;
                        Ok((status, changed))
                    }
                }
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                let keys = Keys::new(prefix, user);
                let mut redis = redis.clone();
                let live: i64 = redis::cmd("ZCOUNT")
                    .arg(&keys.connections)
                    .arg(format!("({now}"))
                    .arg("+inf")
                    .query_async(&mut redis)
                    .await
                    .map_err(failed)?;
                if live == 0 {
                    return Ok((PresenceStatus::Offline, false));
                }
                let changed = if away {
                    let previous: Option<String> = redis::cmd("SET")
                        .arg(&keys.away)
                        .arg(1)
                        .arg("PX")
                        .arg(self.ttl_ms)
                        .arg("GET")
                        .query_async(&mut redis)
                        .await
                        .map_err(failed)?;
                    previous.is_none()
                } else {
                    let deleted: i64 = redis::cmd("DEL")
                        .arg(&keys.away)
                        .query_async(&mut redis)
                        .await
                        .map_err(failed)?;
                    deleted == 1
                };
                Ok((status, changed))
            }
        }
    }

    /// The status of each of `users`, in order.
    pub async fn statuses(
        &self,
        users: &[PresenceUser],
        now: i64,
    ) -> Result<Vec<PresenceStatus>, BrokerError> {
        match &self.backend {
            Backend::Memory(states) => {
                let states = lock(states);
                Ok(users
                    .iter()
                    .map(|user| match states.get(user) {
                        Some(state) if state.live(now) > 0 => status_of(state.away),
                        _ => PresenceStatus::Offline,
                    })
                    .collect())
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                if users.is_empty() {
                    return Ok(Vec::new());
                }
                let mut pipe = redis::pipe();
                for user in users {
                    let keys = Keys::new(prefix, user);
                    pipe.cmd("ZCOUNT")
                        .arg(&keys.connections)
                        .arg(format!("({now}"))
                        .arg("+inf")
                        .exists(&keys.away);
                }
                let answers: Vec<i64> =
                    pipe.query_async(&mut redis.clone()).await.map_err(failed)?;
                Ok(answers
                    .chunks(2)
                    .map(|pair| match pair {
                        [live, away] if *live > 0 => status_of(*away > 0),
                        _ => PresenceStatus::Offline,
                    })
                    .collect())
            }
        }
    }

    /// Removes connections that lapsed (their process died, or stopped
    /// renewing) and returns the users that left offline. Any process may
    /// sweep; each lapsed connection is taken by exactly one.
    pub async fn sweep(&self, now: i64) -> Result<Vec<PresenceUser>, BrokerError> {
        match &self.backend {
            Backend::Memory(users) => {
                let mut users = lock(users);
                let mut gone = Vec::new();
                users.retain(|user, state| {
                    let before = state.connections.len();
                    state.connections.retain(|_, at| *at > now);
                    if state.connections.is_empty() {
                        if before > 0 {
                            gone.push(user.clone());
                        }
                        return false;
                    }
                    true
                });
                Ok(gone)
            }
            Backend::Redis {
                connection: redis,
                prefix,
            } => {
                let index = format!("{prefix}:presence:lapses");
                let mut redis = redis.clone();
                let lapsed: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                    .arg(&index)
                    .arg("-inf")
                    .arg(now)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(SWEEP_BATCH)
                    .query_async(&mut redis)
                    .await
                    .map_err(failed)?;
                let mut gone = Vec::new();
                for member in lapsed {
                    let taken: i64 = redis::cmd("ZREM")
                        .arg(&index)
                        .arg(&member)
                        .query_async(&mut redis)
                        .await
                        .map_err(failed)?;
                    let Some((user, connection)) = parse_index_member(&member) else {
                        continue;
                    };
                    if taken == 0 {
                        continue; // another process swept it first
                    }
                    let keys = Keys::new(prefix, &user);
                    let (removed, count): (i64, i64) = redis::pipe()
                        .atomic()
                        .zrem(&keys.connections, connection)
                        .zrembyscore(&keys.connections, "-inf", now)
                        .ignore()
                        .zcard(&keys.connections)
                        .query_async(&mut redis)
                        .await
                        .map_err(failed)?;
                    if after_removal(&redis, &keys, removed == 1 && count == 0)
                        .await?
                        .is_some()
                    {
                        gone.push(user);
                    }
                }
                Ok(gone)
            }
        }
    }
}

/// After a connection left: clears the away flag once the user is gone.
async fn after_removal(
    redis: &CommandConnection,
    keys: &Keys,
    went_offline: bool,
) -> Result<Option<PresenceStatus>, BrokerError> {
    if !went_offline {
        return Ok(None);
    }
    let _: i64 = redis::cmd("DEL")
        .arg(&keys.away)
        .query_async(&mut redis.clone())
        .await
        .map_err(failed)?;
    Ok(Some(PresenceStatus::Offline))
}

/// Whether `connection` is the user's only live connection.
async fn only_connection(
    redis: &CommandConnection,
    keys: &Keys,
    connection: &str,
    now: i64,
) -> Result<bool, BrokerError> {
    let live: Vec<String> = redis::cmd("ZRANGEBYSCORE")
        .arg(&keys.connections)
        .arg(format!("({now}"))
        .arg("+inf")
        .arg("LIMIT")
        .arg(0)
        .arg(2)
        .query_async(&mut redis.clone())
        .await
        .map_err(failed)?;
    Ok(live.len() == 1 && live[0] == connection)
}

/// `prefix` as a hash tag, which Redis Cluster hashes alone: every key that
/// starts with it lands in one slot. An empty tag (`{}`) would not count,
/// so an empty prefix gets a tag of its own.
pub(crate) fn one_slot_prefix(prefix: &str) -> String {
    if prefix.is_empty() {
        "{orbit-presence}".to_owned()
    } else {
        format!("{{{prefix}}}")
    }
}

fn status_of(away: bool) -> PresenceStatus {
    if away {
        PresenceStatus::Away
    } else {
        PresenceStatus::Online
    }
}

/// The Redis keys of one user's presence.
struct Keys {
    /// Sorted set: connection id scored by its expiry.
    connections: String,
    /// Set while the user is away; expires with their connections.
    away: String,
    /// Sorted set of every connection of every user, scored by expiry, so
    /// that a sweep finds lapsed ones without knowing the users.
    index: String,
    user: PresenceUser,
}

impl Keys {
    fn new(prefix: &str, user: &PresenceUser) -> Self {
        Self {
            connections: format!("{prefix}:presence:{}:{}", user.app, user.user),
            away: format!("{prefix}:presence:{}:{}:away", user.app, user.user),
            index: format!("{prefix}:presence:lapses"),
            user: user.clone(),
        }
    }

    fn index_member(&self, connection: &str) -> String {
        format!("{} {} {connection}", self.user.app, self.user.user)
    }
}

fn parse_index_member(member: &str) -> Option<(PresenceUser, &str)> {
    let mut parts = member.splitn(3, ' ');
    let app = parts.next()?;
    let user = parts.next()?;
    let connection = parts.next()?;
    Some((
        PresenceUser {
            app: app.to_owned(),
            user: user.to_owned(),
        },
        connection,
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn failed(error: redis::RedisError) -> BrokerError {
    BrokerError::Command(crate::redacted(&error))
}

#[cfg(test)]
mod tests {
    use redis::cluster_routing::Slot;

    use super::*;

    fn keys_of(prefix: &str, app: &str, user: &str) -> Vec<String> {
        let keys = Keys::new(
            prefix,
            &PresenceUser {
                app: app.to_owned(),
                user: user.to_owned(),
            },
        );
        vec![keys.connections, keys.away, keys.index]
    }

    #[test]
    fn on_a_cluster_every_presence_key_of_a_deployment_shares_one_slot() {
        for prefix in ["orbit", "", "odd}prefix", "odd{prefix"] {
            let tagged = one_slot_prefix(prefix);
            let mut keys = keys_of(&tagged, "app-1", "alice");
            keys.extend(keys_of(&tagged, "app-2", "bob"));
            let slot = Slot::for_key(&keys[0]);
            for key in &keys {
                assert_eq!(Slot::for_key(key), slot, "{prefix:?}: {key}");
            }
        }
        // Untagged, users' keys spread over slots (which a transaction
        // spanning them could not use).
        let spread: HashSet<_> = ["alice", "bob", "carol", "dave"]
            .iter()
            .map(|user| Slot::for_key(&keys_of("orbit", "app", user)[0]))
            .collect();
        assert!(spread.len() > 1);
    }

    #[test]
    fn a_single_redis_keeps_its_key_names() {
        assert_eq!(
            keys_of("orbit", "app", "alice"),
            [
                "orbit:presence:app:alice",
                "orbit:presence:app:alice:away",
                "orbit:presence:lapses"
            ]
        );
        assert_eq!(
            keys_of(&one_slot_prefix("orbit"), "app", "alice")[0],
            "{orbit}:presence:app:alice"
        );
    }
}
