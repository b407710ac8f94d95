//! What this process knows of live credentials, so that checking one costs
//! no database round trip: a session found live and an API key found
//! unrevoked are remembered, and forgotten the moment they end.
//!
//! How an end reaches every process: a revocation (log out, a session
//! revoked, a password changed, a user disabled, a key revoked, an app
//! deleted) commits an event in the same transaction. The committing
//! process forgets at once, before the mutation answers (a commit
//! observer); the relay publishes the event on the broker topic
//! [`TOPIC`] as well as on its own, and every process forgets when it
//! arrives. The relay's sweep publishes what a crash left, so no end is
//! lost; a broker outage (a gap) empties the cache, since ends may have
//! been missed; and nothing is trusted longer than [`CREDENTIAL_CACHE_TTL`]
//! by the clock, whatever happens to the messages.
//!
//! A check that read the database while an end arrived must not store
//! what it read: every end bumps a generation, and a read stores only if
//! the generation is the one it started with.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use orbit_domain::entities::api_key;
use orbit_domain::events::Event;
use orbit_domain::ids::{AppId, SessionId, UserId};
use orbit_persistence::committed::AppendedEvent;
use orbit_realtime::Delivery;
use tokio::sync::watch;
use uuid::Uuid;

use crate::Services;
use crate::realtime::envelope::Envelope;

/// The broker topic that carries ends of credentials to every process
/// (apps' topics all have a `kind:` prefix of their own).
pub const TOPIC: &str = "orbit:credentials";

/// How long a process trusts a credential it checked, whatever it hears.
pub const CREDENTIAL_CACHE_TTL: Duration = Duration::seconds(60);
/// Beyond this many sessions, or keys, the cache starts again empty
/// rather than grow.
const MAX_CACHED: usize = 100_000;

#[derive(Default)]
pub(crate) struct CredentialCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every end heard; see the module's last paragraph.
    generation: u64,
    sessions: HashMap<SessionId, LiveSession>,
    /// By the key's lookup prefix.
    keys: HashMap<String, LiveKey>,
}

#[derive(Debug, Clone, Copy)]
struct LiveSession {
    app: AppId,
    user: UserId,
    expires_at: DateTime<Utc>,
    checked_at: DateTime<Utc>,
}

struct LiveKey {
    key: api_key::Model,
    checked_at: DateTime<Utc>,
}

/// The generation a database read started in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadStarted(u64);

impl CredentialCache {
    /// Whether `session` of `user` in `app` was found live within the
    /// cache's lifetime and is not past its expiry.
    pub fn session_live(
        &self,
        app: AppId,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> bool {
        self.lock().sessions.get(&session).is_some_and(|live| {
            live.app == app
                && live.user == user
                && live.expires_at > now
                && now < live.checked_at + CREDENTIAL_CACHE_TTL
        })
    }

    /// Call before reading a credential from the database.
    pub fn read_started(&self) -> ReadStarted {
        ReadStarted(self.lock().generation)
    }

    /// Remembers a session the database found live, unless an end was
    /// heard since the read started.
    pub fn keep_session(
        &self,
        read: ReadStarted,
        session: SessionId,
        (app, user): (AppId, UserId),
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        let live = LiveSession {
            app,
            user,
            expires_at,
            checked_at: now,
        };
        self.keep(read, |state| &mut state.sessions, session, live);
    }

    /// The unrevoked key with this lookup prefix, as last read.
    pub fn key(&self, lookup_prefix: &str, now: DateTime<Utc>) -> Option<api_key::Model> {
        self.lock()
            .keys
            .get(lookup_prefix)
            .filter(|live| now < live.checked_at + CREDENTIAL_CACHE_TTL)
            .map(|live| live.key.clone())
    }

    /// Remembers a key the database found unrevoked, unless an end was
    /// heard since the read started.
    pub fn keep_key(
        &self,
        read: ReadStarted,
        lookup_prefix: &str,
        key: api_key::Model,
        now: DateTime<Utc>,
    ) {
        let live = LiveKey {
            key,
            checked_at: now,
        };
        self.keep(
            read,
            |state| &mut state.keys,
            lookup_prefix.to_owned(),
            live,
        );
    }

    /// Stores what a read found, unless an end was heard since it started;
    /// a full map starts again empty rather than grow.
    fn keep<K: std::hash::Hash + Eq, V>(
        &self,
        read: ReadStarted,
        map: impl FnOnce(&mut State) -> &mut HashMap<K, V>,
        key: K,
        value: V,
    ) {
        let mut state = self.lock();
        if state.generation != read.0 {
            return;
        }
        let map = map(&mut state);
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(key, value);
    }

    /// Notes that a key's last use was recorded, so the next request does
    /// not record it again.
    pub fn key_used(&self, lookup_prefix: &str, at: DateTime<Utc>) {
        if let Some(live) = self.lock().keys.get_mut(lookup_prefix) {
            live.key.last_used_at = Some(at);
        }
    }

    /// Forgets what `event` (of `app`) ends; anything else is ignored.
    pub fn hear(&self, app: Uuid, event: &Event) {
        if !event.ends_credentials() {
            return;
        }
        let mut state = self.lock();
        state.generation += 1;
        match event {
            Event::SessionRevoked(revoked) => match revoked.session_id {
                Some(session) => {
                    state.sessions.remove(&session);
                }
                None => state
                    .sessions
                    .retain(|_, live| live.user != revoked.user_id),
            },
            Event::ApiKeyRevoked(revoked) => {
                state.keys.retain(|_, live| live.key.id != revoked.key_id.0);
            }
            Event::AppDeleted(_) => {
                state.sessions.retain(|_, live| live.app.0 != app);
                state.keys.retain(|_, live| live.key.app_id != app);
            }
            _ => {}
        }
    }

    /// Forgets everything: ends may have been missed.
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.sessions.clear();
        state.keys.clear();
    }

    /// What this process just committed (the commit observer).
    pub fn hear_committed(&self, events: &[AppendedEvent]) {
        for appended in events {
            self.hear(appended.app, &appended.event);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Listens on [`TOPIC`] until `stop` flips to true.
pub async fn run(services: Services, mut stop: watch::Receiver<bool>) {
    let mut incoming = services.broker().subscribe(TOPIC).await;
    // Whatever ended before the subscription began went unheard.
    services.credentials().forget_all();
    loop {
        tokio::select! {
            delivery = incoming.recv() => match delivery {
                Some(Delivery::Message(bytes)) => {
                    if let Some(envelope) = Envelope::decode(&bytes) {
                        services.credentials().hear(envelope.app, &envelope.event);
                    }
                }
                Some(Delivery::Gap { .. }) => services.credentials().forget_all(),
                None => return,
            },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use orbit_domain::events::{AppDeletion, KeyRevocation, SessionRevocation};
    use orbit_domain::ids::ApiKeyId;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn key(app: Uuid) -> api_key::Model {
        api_key::Model {
            id: Uuid::now_v7(),
            app_id: app,
            kind: "secret".into(),
            environment: "test".into(),
            name: "server".into(),
            lookup_prefix: String::new(),
            secret_hash: String::new(),
            created_at: at(0),
            revoked_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn a_session_is_trusted_until_its_end_is_heard_or_the_ttl_passes() {
        let cache = CredentialCache::default();
        let (app, user, session) = (
            AppId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
            SessionId(Uuid::now_v7()),
        );
        let read = cache.read_started();
        cache.keep_session(read, session, (app, user), at(3600), at(0));
        assert!(cache.session_live(app, session, user, at(1)));
        assert!(!cache.session_live(app, session, UserId(Uuid::now_v7()), at(1)));
        assert!(
            !cache.session_live(app, session, user, at(60)),
            "past the TTL"
        );

        cache.hear(
            app.0,
            &Event::SessionRevoked(SessionRevocation {
                user_id: user,
                session_id: None,
            }),
        );
        assert!(!cache.session_live(app, session, user, at(1)));
    }

    #[test]
    fn a_read_that_overlapped_an_end_is_not_kept() {
        let cache = CredentialCache::default();
        let (app, user, session) = (
            AppId(Uuid::now_v7()),
            UserId(Uuid::now_v7()),
            SessionId(Uuid::now_v7()),
        );
        let read = cache.read_started();
        cache.hear(
            app.0,
            &Event::SessionRevoked(SessionRevocation {
                user_id: user,
                session_id: Some(session),
            }),
        );
        cache.keep_session(read, session, (app, user), at(3600), at(0));
        assert!(!cache.session_live(app, session, user, at(1)));
    }

    #[test]
    fn keys_end_by_revocation_by_app_deletion_and_by_a_gap() {
        let cache = CredentialCache::default();
        let app = Uuid::now_v7();
        let (first, second) = (key(app), key(app));
        cache.keep_key(cache.read_started(), "first", first.clone(), at(0));
        cache.keep_key(cache.read_started(), "second", second, at(0));
        cache.hear(
            app,
            &Event::ApiKeyRevoked(KeyRevocation {
                key_id: ApiKeyId(first.id),
            }),
        );
        assert!(cache.key("first", at(1)).is_none());
        assert!(cache.key("second", at(1)).is_some());

        cache.hear(app, &Event::AppDeleted(AppDeletion { app_id: AppId(app) }));
        assert!(cache.key("second", at(1)).is_none());

        cache.keep_key(cache.read_started(), "first", first, at(0));
        cache.forget_all();
        assert!(cache.key("first", at(1)).is_none());
    }
}
