//! Who is calling: resolved once per request from its credential, then read
//! by every resolver.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use orbit_auth::{AccessTokenKeys, ApiKeyKind, parse_api_key, verify_api_key};
use orbit_domain::entities::api_key;
use orbit_domain::ids::{ApiKeyId, AppId, AppScope, SessionId, UserId};
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::{api_keys, apps, sessions};

use crate::verified_tokens::{TokenDigest, VerifiedToken};
use crate::{Services, signing_keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// No credential: the console app, where developers sign up and log in.
    Anonymous { app: AppScope },
    /// `pk_...`: may sign up and log in users of its app, nothing more.
    Publishable { app: AppScope },
    /// `sk_...`: acts for the whole app.
    Secret { app: AppScope },
    /// An access token. In the console app the user is a developer.
    User {
        app: AppScope,
        user: UserId,
        session: SessionId,
        developer: bool,
    },
}

/// Whom an operation acts as once credentials are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    App,
    User(UserId),
}

impl Viewer {
    pub fn app(&self) -> AppScope {
        match *self {
            Viewer::Anonymous { app }
            | Viewer::Publishable { app }
            | Viewer::Secret { app }
            | Viewer::User { app, .. } => app,
        }
    }

    pub fn user(&self) -> Option<UserId> {
        match *self {
            Viewer::User { user, .. } => Some(user),
            _ => None,
        }
    }

    /// For operations that need a user or the secret key.
    pub fn actor(&self) -> DomainResult<Actor> {
        match *self {
            Viewer::Secret { .. } => Ok(Actor::App),
            Viewer::User { user, .. } => Ok(Actor::User(user)),
            Viewer::Anonymous { .. } | Viewer::Publishable { .. } => {
                Err(DomainError::unauthenticated(
                    "log in first: this needs a user's access token or the app's secret key",
                ))
            }
        }
    }

    /// For operations only the app's secret key may do (its settings).
    pub fn require_secret(&self) -> DomainResult<AppScope> {
        match *self {
            Viewer::Secret { app } => Ok(app),
            _ => Err(DomainError::forbidden("this needs the app's secret key")),
        }
    }

    /// For operations of developers (console users) on their own account:
    /// creating apps. Keys and app users are not developers.
    pub fn require_developer(&self) -> DomainResult<UserId> {
        match *self {
            Viewer::User {
                user,
                developer: true,
                ..
            } => Ok(user),
            Viewer::User { .. } | Viewer::Secret { .. } => Err(DomainError::forbidden(
                "this needs a developer's access token (a console user)",
            )),
            Viewer::Anonymous { .. } | Viewer::Publishable { .. } => Err(
                DomainError::unauthenticated("log in as a developer first (orbit login)"),
            ),
        }
    }

    /// For operations only a signed-in user can do.
    pub fn require_user(&self) -> DomainResult<UserId> {
        match self.actor()? {
            Actor::User(user) => Ok(user),
            Actor::App => Err(DomainError::forbidden("this needs a user's access token")),
        }
    }
}

/// Resolves the credential of a request (`Authorization: Bearer ...` or
/// `x-api-key`). An invalid credential is an error, never anonymous: a client
/// with a stale token must learn it, not silently see the console app.
pub async fn resolve(services: &Services, credential: Option<&str>) -> DomainResult<Viewer> {
    resolve_until(services, credential)
        .await
        .map(|(viewer, _)| viewer)
}

/// Like [`resolve`], and also when the credential stops being valid by
/// itself (an access token's expiry), for connections that outlive a request.
pub async fn resolve_until(
    services: &Services,
    credential: Option<&str>,
) -> DomainResult<(Viewer, Option<DateTime<Utc>>)> {
    resolve_credential(services, credential)
        .await
        .map(|resolved| (resolved.viewer, resolved.expires_at))
}

/// A credential, resolved: who calls, until when (an access token's
/// expiry), and with which API key, so that a connection can watch for the
/// key's revocation.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub viewer: Viewer,
    pub expires_at: Option<DateTime<Utc>>,
    pub api_key: Option<ApiKeyId>,
}

/// Like [`resolve_until`], with the API key used, if any.
pub async fn resolve_credential(
    services: &Services,
    credential: Option<&str>,
) -> DomainResult<Resolved> {
    let Some(credential) = credential.map(str::trim).filter(|c| !c.is_empty()) else {
        let viewer = Viewer::Anonymous {
            app: services.console(),
        };
        return Ok(Resolved {
            viewer,
            expires_at: None,
            api_key: None,
        });
    };
    let now = services.clock().now();
    if let Some(parsed) = parse_api_key(credential) {
        let key = live_key(services, &parsed.lookup_prefix, now)
            .await?
            .filter(|key| verify_api_key(credential, &key.secret_hash))
            .ok_or_else(|| DomainError::unauthenticated("the API key is invalid or revoked"))?;
        match api_keys::touch(services.db(), &key, now).await {
            Ok(()) => services.credentials().key_used(&parsed.lookup_prefix, now),
            // Bookkeeping: the request goes on without it.
            Err(error) => tracing::warn!(error = ?error, "could not record an API key's use"),
        }
        let app = AppScope::new(AppId(key.app_id));
        let viewer = match parsed.kind {
            ApiKeyKind::Publishable => Viewer::Publishable { app },
            ApiKeyKind::Secret => Viewer::Secret { app },
        };
        return Ok(Resolved {
            viewer,
            expires_at: None,
            api_key: Some(ApiKeyId(key.id)),
        });
    }
    let invalid = || DomainError::unauthenticated("the access token is invalid or expired");
    let token = verified_token(services, credential, now)
        .await?
        .ok_or_else(invalid)?;
    let app = AppScope::new(token.app);
    if !session_live(services, app, token.session, token.user, now).await? {
        return Err(invalid());
    }
    let viewer = Viewer::User {
        app,
        user: token.user,
        session: token.session,
        developer: app == services.console(),
    };
    Ok(Resolved {
        viewer,
        expires_at: token.expiry(),
        api_key: None,
    })
}

/// The access token, verified: its signature and claims once per process
/// (remembered until it expires, see `verified_tokens`), its expiry and
/// its signing key's standing on every call. `None` when it is not valid.
async fn verified_token(
    services: &Services,
    token: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<Arc<VerifiedToken>>> {
    let digest = TokenDigest::of(token);
    if let Some(known) = services.verified_tokens().get(&digest, now) {
        let standing = signing_keys::status(services, &known.kid).await?;
        return Ok(standing
            .is_some_and(|status| status.admits(known.issued_at))
            .then_some(known));
    }
    let Ok(kid) = AccessTokenKeys::key_id(token) else {
        return Ok(None);
    };
    let Some(status) = signing_keys::status(services, &kid).await? else {
        return Ok(None);
    };
    let Ok(claims) = services
        .tokens()
        .verify(token, &kid, status, services.issuer(), now)
    else {
        return Ok(None);
    };
    let (Ok(app), Ok(user), Ok(session)) = (
        claims.aud.parse::<AppId>(),
        claims.sub.parse::<UserId>(),
        claims.sid.parse::<SessionId>(),
    ) else {
        return Ok(None);
    };
    let verified = VerifiedToken {
        kid,
        app,
        user,
        session,
        issued_at: claims.iat,
        expires_at: claims.exp,
    };
    Ok(Some(services.verified_tokens().keep(digest, verified)))
}

/// Whether the session is live: from what this process knows (see
/// `credentials`), else from the database, which it then remembers. Either
/// way a logout or revocation takes effect at once, not when the token
/// expires.
async fn session_live(
    services: &Services,
    app: AppScope,
    session: SessionId,
    user: UserId,
    now: DateTime<Utc>,
) -> DomainResult<bool> {
    let cache = services.credentials();
    if cache.session_live(app.app_id(), session, user, now) {
        return Ok(true);
    }
    let read = cache.read_started();
    let Some(live) = sessions::find_live(services.db(), app, session, user, now).await? else {
        return Ok(false);
    };
    cache.keep_session(read, session, (app.app_id(), user), live.expires_at, now);
    Ok(true)
}

/// The unrevoked key with this lookup prefix: from what this process knows,
/// else from the database, which it then remembers.
async fn live_key(
    services: &Services,
    lookup_prefix: &str,
    now: DateTime<Utc>,
) -> DomainResult<Option<api_key::Model>> {
    let cache = services.credentials();
    if let Some(key) = cache.key(lookup_prefix, now) {
        return Ok(Some(key));
    }
    let read = cache.read_started();
    let key = apps::find_key_by_prefix(services.db(), lookup_prefix)
        .await?
        .filter(|key| key.revoked_at.is_none());
    if let Some(key) = &key {
        cache.keep_key(read, lookup_prefix, key.clone(), now);
    }
    Ok(key)
}
