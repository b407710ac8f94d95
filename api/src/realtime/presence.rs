//! Presence as this process takes part in it: each user's socket is a
//! connection in the shared presence store (`orbit_realtime::Presence`),
//! renewed while the socket is open; every process sweeps connections that
//! lapsed, which is how the users of a process that died go offline. Each
//! change of a user's status is announced once, as an ephemeral
//! `presence.changed` on the topic of every team the user belongs to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use orbit_domain::events::{self, Event, Topic};
use orbit_domain::ids::{AppScope, UserId};
use orbit_realtime::{BrokerError, Presence, PresenceStatus, PresenceUser};
use tokio::sync::watch;

use super::envelope::Envelope;
use crate::Services;

/// A connection lapses this long after its process last renewed it: a
/// process that dies takes its users offline within this time (and a tick).
pub const PRESENCE_TTL: Duration = Duration::from_secs(30);
/// How often this process renews its connections: a third of the TTL, so
/// one late renewal does not make anyone flicker offline.
const RENEW_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct PresenceTracker {
    store: Presence,
    local: Arc<Mutex<Local>>,
}

/// This process's sockets that count for presence.
struct Local {
    connections: HashMap<String, PresenceUser>,
    /// Renewal is due at this time of the clock (which tests move) or after
    /// `RENEW_EVERY` of real time (which Redis's key expiry follows),
    /// whichever comes first.
    next_renewal: Option<DateTime<Utc>>,
    renewed_at: Instant,
}

impl PresenceTracker {
    pub fn new(store: Presence) -> Self {
        Self {
            store,
            local: Arc::new(Mutex::new(Local {
                connections: HashMap::new(),
                next_renewal: None,
                renewed_at: Instant::now(),
            })),
        }
    }

    /// A user's socket was acknowledged.
    pub async fn connected(&self, services: &Services, app: AppScope, user: UserId, id: &str) {
        let member = presence_user(app, user);
        self.lock()
            .connections
            .insert(id.to_owned(), member.clone());
        let now = services.clock().now();
        match self.store.connect(&member, id, millis(now)).await {
            Ok(Some(status)) => announce(services, app, user, status, now).await,
            Ok(None) => {}
            // The next renewal registers it.
            Err(error) => tracing::warn!(%error, "could not record a connection's presence"),
        }
    }

    /// A user's socket closed.
    pub async fn disconnected(&self, services: &Services, id: &str) {
        let Some(member) = self.lock().connections.remove(id) else {
            return;
        };
        let now = services.clock().now();
        match self.store.disconnect(&member, id, millis(now)).await {
            Ok(Some(status)) => {
                if let Some((app, user)) = ids_of(&member) {
                    announce(services, app, user, status, now).await;
                }
            }
            Ok(None) => {}
            // The connection lapses instead, and a sweep announces it.
            Err(error) => tracing::warn!(%error, "could not record a disconnection's presence"),
        }
    }

    /// Marks the user away or back; announced when it changes anything.
    /// A user without an open socket stays offline.
    pub async fn set_away(
        &self,
        services: &Services,
        app: AppScope,
        user: UserId,
        away: bool,
    ) -> Result<PresenceStatus, BrokerError> {
        let now = services.clock().now();
        let (status, changed) = self
            .store
            .set_away(&presence_user(app, user), away, millis(now))
            .await?;
        if changed {
            announce(services, app, user, status, now).await;
        }
        Ok(status)
    }

    /// The status of each of `users`, in order.
    pub async fn statuses(
        &self,
        services: &Services,
        app: AppScope,
        users: &[UserId],
    ) -> Result<Vec<PresenceStatus>, BrokerError> {
        let members: Vec<PresenceUser> =
            users.iter().map(|user| presence_user(app, *user)).collect();
        self.store
            .statuses(&members, millis(services.clock().now()))
            .await
    }

    /// Renews this process's connections when due, then sweeps lapsed ones
    /// (renewing first, so this process never sweeps its own).
    async fn tick(&self, services: &Services) {
        let now = services.clock().now();
        let due: Option<Vec<(PresenceUser, String)>> = {
            let mut local = self.lock();
            let due = local.next_renewal.is_none_or(|at| now >= at)
                || local.renewed_at.elapsed() >= RENEW_EVERY;
            due.then(|| {
                local.next_renewal = Some(now + to_chrono(RENEW_EVERY));
                local.renewed_at = Instant::now();
                local
                    .connections
                    .iter()
                    .map(|(id, member)| (member.clone(), id.clone()))
                    .collect()
            })
        };
        if let Some(connections) = due.filter(|c| !c.is_empty()) {
            match self.store.renew(&connections, millis(now)).await {
                Ok(back) => {
                    for member in back {
                        if let Some((app, user)) = ids_of(&member) {
                            announce(services, app, user, PresenceStatus::Online, now).await;
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "could not renew presence"),
            }
        }
        match self.store.sweep(millis(now)).await {
            Ok(gone) => {
                for member in gone {
                    if let Some((app, user)) = ids_of(&member) {
                        announce(services, app, user, PresenceStatus::Offline, now).await;
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not sweep presence"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Publishes `presence.changed` on each of the user's team topics.
async fn announce(
    services: &Services,
    app: AppScope,
    user: UserId,
    status: PresenceStatus,
    now: DateTime<Utc>,
) {
    let teams = match orbit_persistence::teams::team_ids_of(services.db(), app, user).await {
        Ok(teams) => teams,
        Err(error) => {
            tracing::warn!(?error, "could not list a user's teams to announce presence");
            return;
        }
    };
    let event = Event::PresenceChanged(events::Presence {
        user_id: user,
        status: status.as_str().to_owned(),
    });
    for team in teams {
        let topic = Topic::Team(team);
        let published =
            Envelope::publish_ephemeral(services.broker(), app, topic, event.clone(), now);
        if let Err(error) = published.await {
            tracing::warn!(%error, "could not publish presence.changed");
        }
    }
}

/// Renews, sweeps and announces on each tick until the ticker stops.
pub async fn run(services: Services, mut ticks: watch::Receiver<()>) {
    while ticks.changed().await.is_ok() {
        services.presence().tick(&services).await;
    }
}

fn presence_user(app: AppScope, user: UserId) -> PresenceUser {
    PresenceUser {
        app: app.uuid().to_string(),
        user: user.uuid().to_string(),
    }
}

fn ids_of(member: &PresenceUser) -> Option<(AppScope, UserId)> {
    let app = member.app.parse().ok()?;
    let user = member.user.parse().ok()?;
    Some((AppScope::new(orbit_domain::ids::AppId(app)), UserId(user)))
}

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
