//! Which version of an app's signing key signs its access tokens, and
//! which versions still check them. The keys are derived from the server
//! secret (`orbit_auth::AccessTokenKeys`); the versions live in the
//! `signing_keys` table, which every process shares.
//!
//! Signing reads the current version from the database (logins and
//! refreshes are rare next to requests), so no process signs with a
//! version another process has retired. Checking reads through a small
//! per-process cache that lives [`KEY_CACHE_TTL`] by the clock: a token
//! naming a version newer than the cached one reloads at once, so a fresh
//! token is never refused; a version retired on another process goes on
//! checking there for at most that long. The process that rotates forgets
//! the app at once.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use orbit_auth::{AccessClaims, KeyId, KeyStatus};
use orbit_domain::ids::{AppId, AppScope};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::signing_keys;

use crate::Services;

/// How long a process trusts what it read of an app's key versions.
pub const KEY_CACHE_TTL: Duration = Duration::seconds(10);
/// Beyond this many apps the cache starts again empty rather than grow.
const MAX_CACHED_APPS: usize = 10_000;

/// The versions of one app that check tokens.
#[derive(Debug, Clone, Copy)]
struct Versions {
    current: i32,
    /// The version `current` replaced, and when.
    previous: Option<(i32, DateTime<Utc>)>,
    loaded_at: DateTime<Utc>,
}

impl Versions {
    fn status(&self, version: i32) -> Option<KeyStatus> {
        if version == self.current {
            return Some(KeyStatus::Current);
        }
        match self.previous {
            Some((previous, at)) if previous == version => Some(KeyStatus::Retired { at }),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct SigningKeyCache {
    apps: Mutex<HashMap<AppId, Versions>>,
}

impl SigningKeyCache {
    fn fresh(&self, app: AppId, now: DateTime<Utc>) -> Option<Versions> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.get(&app)
            .copied()
            .filter(|versions| now < versions.loaded_at + KEY_CACHE_TTL)
    }

    fn store(&self, app: AppId, versions: Versions) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if apps.len() >= MAX_CACHED_APPS {
            apps.clear();
        }
        apps.insert(app, versions);
    }

    /// After a rotation or deletion in this process: read again next time.
    pub(crate) fn forget(&self, app: AppId) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.remove(&app);
    }
}

/// Signs `claims` (for the app in their `aud`, which is `scope`) with the
/// app's current key version.
pub(crate) async fn issue(
    services: &Services,
    scope: AppScope,
    claims: &AccessClaims,
) -> DomainResult<String> {
    let current = signing_keys::current(services.db(), scope, services.clock().now()).await?;
    services
        .tokens()
        .issue(claims, current.version)
        .map_err(DomainError::internal)
}

/// What the key a token names may check: `None` for an unknown app or
/// version, or one older than the version the current one replaced.
pub(crate) async fn status(services: &Services, kid: &KeyId) -> DomainResult<Option<KeyStatus>> {
    let Ok(app) = kid.app.parse::<AppId>() else {
        return Ok(None);
    };
    let now = services.clock().now();
    let cache = services.signing_key_cache();
    if let Some(versions) = cache.fresh(app, now)
        && kid.version <= versions.current
    {
        return Ok(versions.status(kid.version));
    }
    let newest = signing_keys::newest_two(services.db(), AppScope::new(app)).await?;
    let Some(current) = newest.first() else {
        return Ok(None);
    };
    let versions = Versions {
        current: current.version,
        previous: newest
            .get(1)
            .and_then(|previous| previous.retired_at.map(|at| (previous.version, at))),
        loaded_at: now,
    };
    cache.store(app, versions);
    Ok(versions.status(kid.version))
}
