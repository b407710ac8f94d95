//! Sends webhook deliveries. Each is a lease item made in the transaction
//! of its change (`persistence::webhooks`); this loop claims the due ones,
//! signs and POSTs each, and records the attempt with what follows from it:
//! done on 2xx, given up (and the webhook turned off) on 410, otherwise
//! tried again after an exponential backoff with full jitter until the
//! retry window ends. A process that dies mid-send loses nothing: its lease
//! ends and another process (or this one, restarted) sends again, under the
//! same event id, which receivers use to drop repeats.

use std::time::{Duration, Instant};

use tracing::Instrument;

use chrono::Duration as ChronoDuration;
use hmac::{Hmac, Mac};
use orbit_domain::entities::{webhook, webhook_delivery};
use orbit_domain::ids::{AppId, EventId, WebhookDeliveryId, WebhookId};
use orbit_domain::webhooks::{
    RETRY_WINDOW, SIGNING_SECRET_PURPOSE, delivery_payload, next_attempt,
};
use orbit_domain::{DomainResult, SealContext};
use orbit_persistence::queues::Queue;
use orbit_persistence::webhooks::{self, NewAttempt, Outcome};
use rand::Rng;
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinSet;
use url::Url;
use uuid::Uuid;

use crate::WorkerContext;

/// How long a claimed delivery is this process's: well beyond the request
/// timeout, so a live process never loses a delivery it is sending.
pub const LEASE: ChronoDuration = ChronoDuration::minutes(2);
/// A receiver that has not answered by then has failed this attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries sent at once by one process.
const MAX_IN_FLIGHT: usize = 16;

pub const SIGNATURE_HEADER: &str = "Orbit-Signature";
pub const EVENT_ID_HEADER: &str = "Orbit-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "Orbit-Event-Type";
pub const DELIVERY_ID_HEADER: &str = "Orbit-Delivery-Id";
const USER_AGENT: &str = concat!("Orbit-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Claims and sends due deliveries until `shutdown`; deliveries in flight
/// then finish (each within [`REQUEST_TIMEOUT`]) before it returns.
pub async fn run(context: WorkerContext, mut shutdown: watch::Receiver<bool>) {
    let mut in_flight: JoinSet<()> = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        let free = MAX_IN_FLIGHT - in_flight.len();
        if free > 0 {
            // Each claim is a lease of its own, so a send that outlived its
            // lease (and was claimed again, by this process or another)
            // can never record over the newer claim.
            let owner = format!("{}/{}", context.process_id, Uuid::now_v7().simple());
            let claimed =
                webhooks::claim_due(&context.db, &owner, context.clock.now(), LEASE, free as u64)
                    .await;
            match claimed {
                Ok(ids) if !ids.is_empty() => {
                    for id in ids {
                        let context = context.clone();
                        let owner = owner.clone();
                        let span = tracing::info_span!(
                            "webhook_delivery",
                            delivery = %WebhookDeliveryId(id)
                        );
                        in_flight.spawn(
                            async move { deliver(&context, &owner, id).await }.instrument(span),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "could not claim webhook deliveries");
                    context.wake.retry_soon(Queue::WebhookDeliveries);
                }
            }
        }
        let keep_going = tokio::select! {
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => true,
            keep_going = context.wake.next(Queue::WebhookDeliveries, &mut shutdown) => keep_going,
        };
        if !keep_going {
            break;
        }
    }
    while in_flight.join_next().await.is_some() {}
}

async fn deliver(context: &WorkerContext, owner: &str, id: Uuid) {
    if let Err(error) = try_deliver(context, owner, id).await {
        tracing::warn!(
            delivery = %WebhookDeliveryId(id),
            %error,
            "a webhook delivery could not be recorded; it is sent again when its lease ends"
        );
    }
}

async fn try_deliver(context: &WorkerContext, owner: &str, id: Uuid) -> DomainResult<()> {
    let Some((delivery, hook)) = webhooks::claimed(&context.db, id).await? else {
        return Ok(());
    };
    let attempted_at = context.clock.now();
    if hook.disabled_at.is_some() {
        let outcome = Outcome::Failed("the webhook was turned off".to_owned());
        record(context, owner, &delivery, None, outcome).await;
        return Ok(());
    }
    let started = Instant::now();
    let answer = match signing_secrets(context, &hook, attempted_at) {
        Ok(secrets) => send(context, &delivery, &hook, &secrets, attempted_at).await,
        Err(error) => {
            tracing::error!(webhook = %WebhookId(hook.id), %error, "a webhook signing secret does not open");
            Err("the signing secret could not be opened (see the server log)".to_owned())
        }
    };
    let elapsed = started.elapsed();
    metrics::histogram!("orbit_webhook_delivery_duration_seconds").record(elapsed.as_secs_f64());
    let duration_ms = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match &answer {
        Ok(status) if (200..300).contains(status) => (Some(*status), None),
        Ok(status) => (
            Some(*status),
            Some(format!("the receiver answered {status}")),
        ),
        Err(error) => (None, Some(error.clone())),
    };
    let outcome = match answer {
        Ok(status) if (200..300).contains(&status) => Outcome::Succeeded,
        Ok(410) => {
            Outcome::Gone("the receiver answered 410 Gone: the webhook was turned off".to_owned())
        }
        _ => {
            let draw = rand::rng().random_range(0.0..=1.0);
            match next_attempt(
                context.clock.now(),
                delivery.give_up_at,
                delivery.attempts,
                draw,
            ) {
                Some(at) => Outcome::RetryAt(at),
                None => Outcome::Failed(format!(
                    "no success within {} hours ({} attempts)",
                    RETRY_WINDOW.num_hours(),
                    delivery.attempts
                )),
            }
        }
    };
    match &error {
        None => tracing::info!(
            delivery = %WebhookDeliveryId(delivery.id),
            webhook = %WebhookId(hook.id),
            app = %AppId(delivery.app_id),
            event_type = %delivery.event_type,
            status_code,
            duration_ms,
            "webhook delivered"
        ),
        Some(error) => tracing::warn!(
            delivery = %WebhookDeliveryId(delivery.id),
            webhook = %WebhookId(hook.id),
            app = %AppId(delivery.app_id),
            event_type = %delivery.event_type,
            status_code,
            %error,
            duration_ms,
            outcome = ?outcome,
            "webhook delivery failed"
        ),
    }
    let attempt = NewAttempt {
        attempted_at,
        duration_ms,
        status_code: status_code.map(i32::from),
        error,
    };
    record(context, owner, &delivery, Some(attempt), outcome).await;
    Ok(())
}

async fn record(
    context: &WorkerContext,
    owner: &str,
    delivery: &webhook_delivery::Model,
    attempt: Option<NewAttempt>,
    outcome: Outcome,
) {
    let label = match &outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::RetryAt(_) => "retry",
        Outcome::Gone(_) => "gone",
        Outcome::Failed(_) => "failed",
    };
    metrics::counter!("orbit_webhook_deliveries_total", "outcome" => label).increment(1);
    let recorded = webhooks::record_attempt(
        &context.db,
        delivery,
        owner,
        context.clock.now(),
        attempt,
        outcome,
    )
    .await;
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            delivery = %WebhookDeliveryId(delivery.id),
            "a webhook delivery was taken over or deleted while being sent; its attempt is not recorded here"
        ),
        Err(error) => tracing::warn!(
            delivery = %WebhookDeliveryId(delivery.id),
            %error,
            "a webhook attempt could not be recorded; the delivery is sent again when its lease ends"
        ),
    }
}

/// The secrets that sign now: the current one, and the one it replaced
/// while that is still within its overlap.
fn signing_secrets(
    context: &WorkerContext,
    hook: &webhook::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> DomainResult<Vec<String>> {
    let seal = SealContext::new(
        AppId(hook.app_id),
        SIGNING_SECRET_PURPOSE,
        WebhookId(hook.id),
    );
    let mut secrets = vec![context.sealer.open(&hook.signing_secret, &seal)?];
    if let (Some(previous), Some(until)) = (
        &hook.previous_signing_secret,
        hook.previous_secret_expires_at,
    ) && now < until
    {
        secrets.push(context.sealer.open(previous, &seal)?);
    }
    Ok(secrets)
}

/// POSTs the delivery; the receiver's status code, or why there was none.
async fn send(
    context: &WorkerContext,
    delivery: &webhook_delivery::Model,
    hook: &webhook::Model,
    secrets: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u16, String> {
    let url = Url::parse(&hook.url).map_err(|error| format!("the URL does not parse: {error}"))?;
    context
        .outbound
        .check(&url)
        .map_err(|refused| format!("not sent: {refused}"))?;
    let event_id = EventId(delivery.event_id).to_string();
    let payload = delivery_payload(
        EventId(delivery.event_id),
        &delivery.event_type,
        delivery.occurred_at,
        AppId(delivery.app_id),
        &delivery.data,
    );
    let body = payload.to_string().into_bytes();
    let response = context
        .outbound
        .client()
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, USER_AGENT)
        .header(
            SIGNATURE_HEADER,
            signature_header(secrets, now.timestamp(), &body),
        )
        .header(EVENT_ID_HEADER, &event_id)
        .header("Idempotency-Key", &event_id)
        .header(EVENT_TYPE_HEADER, &delivery.event_type)
        .header(
            DELIVERY_ID_HEADER,
            WebhookDeliveryId(delivery.id).to_string(),
        )
        .body(body)
        .send()
        .await
        .map_err(describe_send_error)?;
    Ok(response.status().as_u16())
}

/// The whole chain of a failed request (the address rule's refusal sits
/// deep inside the connector's error), without the URL, which may carry a
/// token in its query.
fn describe_send_error(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", REQUEST_TIMEOUT.as_secs());
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one `v1`
/// per secret, the current secret's first.
pub fn signature_header(secrets: &[String], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        header.push_str(",v1=");
        header.push_str(&hex::encode(mac.finalize().into_bytes()));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::signature_header;

    #[test]
    fn signs_the_timestamp_and_body_with_each_secret() {
        // HMAC-SHA256("whsec_test", "1767225600.{\"a\":1}"), computed with
        // Python's hmac module.
        let header = signature_header(&["whsec_test".to_owned()], 1_767_225_600, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1767225600,v1=6d204545ff126a339c00513d93603299c984074ce1331c3537c3f6c976b49019"
        );
        let both = signature_header(&["whsec_new".to_owned(), "whsec_old".to_owned()], 1, b"{}");
        assert_eq!(both.matches(",v1=").count(), 2);
        assert!(both.starts_with("t=1,v1="));
    }
}
