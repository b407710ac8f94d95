//! The device flow's exchange (RFC 8628): a device polls with its code and
//! gets its user's tokens once a person approved it, exactly once. The
//! OAuth endpoint (`POST /oauth/token`) shapes what this answers; the CLI
//! (`orbit login`) is its client.

use chrono::{DateTime, Utc};
use orbit_auth::{DeviceGrant, DeviceStatus, Poll, hash_token};
use orbit_domain::DomainError;
use orbit_domain::entities::device_authorization;
use orbit_domain::ids::{AppScope, UserId};
use orbit_persistence::device_flow;
use orbit_persistence::users;

use super::sessions::{SignedIn, start_session};
use crate::Services;

/// The built-in public client of the `orbit` CLI: it signs developers in.
pub const CLI_CLIENT_ID: &str = "orbit-cli";
/// The grant type a device polls with.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Why a poll gave no tokens, as RFC 8628 §3.5 tells them apart.
#[derive(Debug)]
pub enum NotYet {
    /// Unknown, spent, or another client's code.
    InvalidGrant,
    Expired,
    Pending,
    /// Polling faster than the interval, which is now this long.
    SlowDown {
        interval_secs: i32,
    },
    Denied,
    Failed(DomainError),
}

impl From<DomainError> for NotYet {
    fn from(error: DomainError) -> Self {
        NotYet::Failed(error)
    }
}

/// One poll of a device code by `client_id`: the user's tokens once the
/// code is approved, exactly once; otherwise why not. Every poll that is
/// not the exchange is recorded, so a client polling too fast is slowed.
pub async fn poll(
    services: &Services,
    scope: AppScope,
    client_id: &str,
    device_code: &str,
) -> Result<SignedIn, NotYet> {
    let db = services.db();
    let authorization = device_flow::find_by_device_code(db, scope, &hash_token(device_code))
        .await?
        .filter(|found| found.client_hash == hash_token(client_id))
        .ok_or(NotYet::InvalidGrant)?;
    let status = DeviceStatus::parse(&authorization.status)
        .ok_or_else(|| DomainError::internal("unknown device authorization status"))?;
    let grant = DeviceGrant {
        status,
        expires_at: authorization.expires_at,
        interval_secs: authorization.interval_secs,
        last_polled_at: authorization.last_polled_at,
    };
    let now = services.clock().now();
    let (not_yet, interval_secs) = match grant.poll(now) {
        Poll::Spent => return Err(NotYet::InvalidGrant),
        Poll::Expired => return Err(NotYet::Expired),
        Poll::Approved => return exchange(services, scope, &authorization, now).await,
        Poll::Pending => (NotYet::Pending, grant.interval_secs),
        Poll::SlowDown { interval_secs } => (NotYet::SlowDown { interval_secs }, interval_secs),
        Poll::Denied => (NotYet::Denied, grant.interval_secs),
    };
    device_flow::record_poll(db, scope, authorization.id, now, interval_secs).await?;
    Err(not_yet)
}

/// Spends an approved authorization and signs its user in. Of two polls at
/// once, one gets the tokens; the other is refused.
async fn exchange(
    services: &Services,
    scope: AppScope,
    authorization: &device_authorization::Model,
    now: DateTime<Utc>,
) -> Result<SignedIn, NotYet> {
    let db = services.db();
    if !device_flow::claim(db, scope, authorization.id, now).await? {
        return Err(NotYet::InvalidGrant);
    }
    let user_id = authorization
        .user_id
        .ok_or_else(|| DomainError::internal("approved without a user"))?;
    let user = users::find(db, scope, UserId(user_id))
        .await?
        .ok_or(NotYet::InvalidGrant)?;
    Ok(start_session(services, scope, user).await?)
}
