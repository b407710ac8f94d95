//! Webhooks: which URLs an app subscribes to which event types, what a
//! delivery carries, and when a failed one is tried again. The sending
//! itself (HTTP, signatures) is the worker's.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use url::Url;

use crate::events::{EventType, WEBHOOK_EVENT_TYPES};
use crate::ids::{AppId, EventId};
use crate::validation::MAX_URL_LEN;
use crate::{DomainError, DomainResult};

/// The start of every signing secret, so a leaked one is recognisable.
pub const SIGNING_SECRET_PREFIX: &str = "whsec_";
/// The purpose signing secrets are sealed under (with the app and webhook id).
pub const SIGNING_SECRET_PURPOSE: &str = "webhook.signing_secret";
/// An app's webhooks at most: each change is written once per subscribed webhook.
pub const MAX_WEBHOOKS_PER_APP: u64 = 20;

/// A delivery is tried for this long after it was made (or redelivered),
/// then given up.
pub const RETRY_WINDOW: Duration = Duration::hours(24);
/// The longest wait after the first failure; it doubles with each failure…
pub const FIRST_RETRY_CEILING: Duration = Duration::seconds(30);
/// …up to this.
pub const MAX_RETRY_CEILING: Duration = Duration::hours(4);
/// Even an unlucky draw waits this long, so a failing receiver is never
/// called in a tight loop.
pub const MIN_RETRY_DELAY: Duration = Duration::seconds(1);

/// How long a rotated-out secret still signs deliveries, unless the
/// rotation says otherwise.
pub const DEFAULT_PREVIOUS_SECRET_VALIDITY: Duration = Duration::hours(24);
pub const MAX_PREVIOUS_SECRET_VALIDITY: Duration = Duration::days(7);

/// Where a delivery stands. The first two are the lease states of
/// `persistence::leases` (`queued`, `running`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (`due_at`).
    Queued,
    /// Being sent by a worker now.
    Sending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Given up: the retry window ended, the receiver answered 410, or the
    /// webhook was disabled.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "running",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(stored: &str) -> DomainResult<Self> {
        [
            DeliveryStatus::Queued,
            DeliveryStatus::Sending,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == stored)
        .ok_or_else(|| DomainError::internal(format!("unknown delivery status `{stored}`")))
    }
}

/// The longest wait after `failed_attempts` failures (1 or more):
/// 30 s, 1 min, 2 min, … doubling, at most 4 h.
pub fn retry_ceiling(failed_attempts: i32) -> Duration {
    let doublings = failed_attempts.saturating_sub(1).clamp(0, 20) as u32;
    let ceiling = FIRST_RETRY_CEILING
        .num_seconds()
        .saturating_mul(1 << doublings);
    Duration::seconds(ceiling).min(MAX_RETRY_CEILING)
}

/// When to try again after `failed_attempts` failures, the last at `now`:
/// a uniformly drawn point up to the ceiling ("full jitter", so receivers
/// that fail together are not retried together), at least
/// [`MIN_RETRY_DELAY`] away, and never after `give_up_at`. `draw` is in
/// `[0, 1]`. `None`: the window is over, give up.
pub fn next_attempt(
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    failed_attempts: i32,
    draw: f64,
) -> Option<DateTime<Utc>> {
    if now >= give_up_at {
        return None;
    }
    let ceiling_ms = retry_ceiling(failed_attempts).num_milliseconds() as f64;
    let delay = Duration::milliseconds((ceiling_ms * draw.clamp(0.0, 1.0)) as i64);
    Some((now + delay.max(MIN_RETRY_DELAY)).min(give_up_at))
}

/// The JSON body of a delivery. The same event always gives the same body,
/// so every attempt (and a redelivery) sends the same bytes.
pub fn delivery_payload(
    event_id: EventId,
    event_type: &str,
    occurred_at: DateTime<Utc>,
    app: AppId,
    data: &Value,
) -> Value {
    json!({
        "id": event_id.to_string(),
        "type": event_type,
        "createdAt": occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "appId": app.to_string(),
        "data": data,
    })
}

/// A webhook's URL: absolute `http` or `https` with a host, no user or
/// password (receivers authenticate deliveries by their signature), no
/// fragment. Whether its address may be called is the outbound client's
/// rule, checked by the caller.
pub fn url(field: &str, value: &str) -> DomainResult<Url> {
    let invalid = || {
        DomainError::bad_input(
            field,
            "must be an http(s) URL with a host, without a user, password or fragment",
        )
    };
    let trimmed = value.trim();
    if trimmed.len() > MAX_URL_LEN || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let url = Url::parse(trimmed).map_err(|_| invalid())?;
    let acceptable = matches!(url.scheme(), "http" | "https")
        && url.host().is_some()
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none();
    if !acceptable {
        return Err(invalid());
    }
    Ok(url)
}

/// The event types a webhook subscribes to: at least one, each a type
/// webhooks carry; repeats dropped, in the order given.
pub fn event_types(field: &str, names: &[String]) -> DomainResult<Vec<EventType>> {
    if names.is_empty() {
        return Err(DomainError::bad_input(
            field,
            "name at least one event type",
        ));
    }
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let event_type = EventType::webhook_type(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = WEBHOOK_EVENT_TYPES.iter().map(|t| t.as_str()).collect();
            DomainError::bad_input(
                field,
                format!(
                    "`{name}` is not a webhook event type; known: {}",
                    known.join(", ")
                ),
            )
        })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

/// How long a rotated-out secret keeps signing: the default, or `seconds`
/// between 0 (stop at once) and 7 days.
pub fn previous_secret_validity(field: &str, seconds: Option<i32>) -> DomainResult<Duration> {
    let Some(seconds) = seconds else {
        return Ok(DEFAULT_PREVIOUS_SECRET_VALIDITY);
    };
    let validity = Duration::seconds(i64::from(seconds));
    if seconds < 0 || validity > MAX_PREVIOUS_SECRET_VALIDITY {
        return Err(DomainError::bad_input(
            field,
            format!(
                "must be between 0 and {} seconds",
                MAX_PREVIOUS_SECRET_VALIDITY.num_seconds()
            ),
        ));
    }
    Ok(validity)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn ceilings_double_from_thirty_seconds_up_to_four_hours() {
        let ceilings: Vec<i64> = (1..=11).map(|n| retry_ceiling(n).num_seconds()).collect();
        assert_eq!(
            ceilings,
            [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 14400, 14400]
        );
        assert_eq!(retry_ceiling(1000), MAX_RETRY_CEILING);
        assert_eq!(retry_ceiling(0).num_seconds(), 30);
    }

    #[test]
    fn the_next_attempt_is_jittered_below_the_ceiling_and_inside_the_window() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let window_end = now + RETRY_WINDOW;
        assert_eq!(
            next_attempt(now, window_end, 1, 1.0),
            Some(now + Duration::seconds(30))
        );
        assert_eq!(
            next_attempt(now, window_end, 1, 0.5),
            Some(now + Duration::seconds(15))
        );
        assert_eq!(
            next_attempt(now, window_end, 3, 0.0),
            Some(now + MIN_RETRY_DELAY)
        );
        // Close to the end, the last attempt is at the end of the window.
        let late = window_end - Duration::minutes(1);
        assert_eq!(next_attempt(late, window_end, 12, 1.0), Some(window_end));
        assert_eq!(next_attempt(window_end, window_end, 13, 0.3), None);
    }

    #[test]
    fn urls_and_event_types_are_checked() {
        assert!(url("url", "https://example.com/hooks?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "example.com/hooks",
            "https://",
        ] {
            assert!(url("url", bad).is_err(), "{bad}");
        }
        let names = ["message.created", "member.joined", "message.created"].map(String::from);
        assert_eq!(
            event_types("eventTypes", &names).unwrap(),
            vec![EventType::MessageCreated, EventType::MemberJoined]
        );
        for bad in [
            vec![],
            vec!["session.revoked".to_owned()],
            vec!["typing.started".to_owned()],
        ] {
            let error = event_types("eventTypes", &bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("eventTypes"));
        }
    }

    #[test]
    fn the_payload_names_the_event_and_its_app() {
        let event = EventId::generate();
        let app = AppId::generate();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        let payload = delivery_payload(event, "message.created", at, app, &json!({"a": 1}));
        assert_eq!(payload["id"], event.to_string());
        assert_eq!(payload["type"], "message.created");
        assert_eq!(payload["createdAt"], "2026-01-01T12:00:00.000Z");
        assert_eq!(payload["appId"], app.to_string());
        assert_eq!(payload["data"]["a"], 1);
    }
}
