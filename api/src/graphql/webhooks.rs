//! Webhooks: an app subscribes URLs to event types; each delivery is
//! signed, retried and logged (the worker sends them). Read with the app's
//! secret key or by any developer of the app; changed by its developers
//! (not viewers) and the secret key.

use std::collections::HashMap;

use super::scalars::Json;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_auth::generate_token;
use orbit_domain::entities::{webhook, webhook_delivery, webhook_delivery_attempt};
use orbit_domain::ids::{AppScope, EventId, WebhookDeliveryId, WebhookId};
use orbit_domain::policy::AppAction;
use orbit_domain::webhooks::{
    self as rules, DeliveryStatus, SIGNING_SECRET_PREFIX, SIGNING_SECRET_PURPOSE,
};
use orbit_domain::{DomainError, SealContext};
use orbit_persistence::webhooks::{self, NewWebhook, WebhookChanges};
use uuid::Uuid;

use super::pagination::{Conn, CursorList};
use super::{GqlResult, services};
use crate::Services;
use crate::application::outbound;

async fn find_webhook(services: &Services, scope: AppScope, id: &ID) -> GqlResult<webhook::Model> {
    let id = WebhookId::parse_field(id, "id")?;
    webhooks::find(services.db(), scope, id)
        .await?
        .ok_or_else(|| DomainError::not_found("webhook").with_field("id"))
}

fn callable_url(services: &Services, value: &str) -> GqlResult<String> {
    Ok(outbound::callable_url(services, "url", value)?.to_string())
}

/// A new secret, shown once, and its sealed form for the webhook's row.
fn new_signing_secret(services: &Services, scope: AppScope, id: WebhookId) -> (String, String) {
    let secret = generate_token(SIGNING_SECRET_PREFIX);
    let sealed = services.sealer().seal(
        &secret,
        &SealContext::new(scope.app_id(), SIGNING_SECRET_PURPOSE, id),
    );
    (secret, sealed)
}

pub struct WebhookNode(pub webhook::Model);

#[Object(name = "Webhook")]
impl WebhookNode {
    async fn id(&self) -> ID {
        ID(WebhookId(self.0.id).to_string())
    }
    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// The event types delivered (`message.created`, ...).
    async fn event_types(&self) -> Vec<String> {
        webhooks::subscribed_types(&self.0)
    }
    /// Off: no deliveries are made or sent for it. A receiver answering 410
    /// turns it off; `updateWebhook(enabled: true)` turns it on again.
    async fn enabled(&self) -> bool {
        self.0.disabled_at.is_none()
    }
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }
    /// Why it is off.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// While set, deliveries carry a second `v1` signature made with the
    /// secret before the last rotation; it stops at this time.
    async fn previous_secret_expires_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        let now = services(ctx).clock().now();
        self.0
            .previous_secret_expires_at
            .filter(|until| *until > now)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Its deliveries, newest first, each with its attempts.
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<WebhookDeliveryNode>> {
        let services = services(ctx);
        let scope = AppScope::new(self.0.app_id.into());
        let webhook = WebhookId(self.0.id);
        let list = CursorList::new("webhookDeliveries", webhook);
        let page = webhooks::deliveries(
            services.db(),
            scope,
            webhook,
            list.forward_args(first, after)?,
        )
        .await?;
        let wants_attempts = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("attempts")
            .exists();
        let mut attempts: HashMap<Uuid, Vec<webhook_delivery_attempt::Model>> = HashMap::new();
        if wants_attempts {
            let ids: Vec<Uuid> = page.items.iter().map(|d| d.id).collect();
            for attempt in webhooks::attempts(services.db(), scope, &ids).await? {
                attempts
                    .entry(attempt.delivery_id)
                    .or_default()
                    .push(attempt);
            }
        }
        Ok(list.connection(
            page,
            |d| d.id,
            |delivery| WebhookDeliveryNode {
                attempts: wants_attempts
                    .then(|| attempts.get(&delivery.id).cloned().unwrap_or_default()),
                delivery,
            },
        ))
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt (`nextAttemptAt`).
    Queued,
    /// Being sent now.
    Sending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Given up (see `failureReason`); `redeliverWebhookDelivery` sends it again.
    Failed,
}

pub struct WebhookDeliveryNode {
    delivery: webhook_delivery::Model,
    /// Loaded with the page when asked for; else on demand.
    attempts: Option<Vec<webhook_delivery_attempt::Model>>,
}

#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryNode {
    async fn id(&self) -> ID {
        ID(WebhookDeliveryId(self.delivery.id).to_string())
    }
    async fn webhook_id(&self) -> ID {
        ID(WebhookId(self.delivery.webhook_id).to_string())
    }
    /// The event's id: the `Orbit-Event-Id` (and `Idempotency-Key`) header,
    /// the same on every attempt.
    async fn event_id(&self) -> ID {
        ID(EventId(self.delivery.event_id).to_string())
    }
    async fn event_type(&self) -> &str {
        &self.delivery.event_type
    }
    /// The JSON body sent: `{id, type, createdAt, appId, data}`.
    async fn payload(&self) -> Json {
        Json(rules::delivery_payload(
            EventId(self.delivery.event_id),
            &self.delivery.event_type,
            self.delivery.occurred_at,
            self.delivery.app_id.into(),
            &self.delivery.data,
        ))
    }
    async fn status(&self) -> GqlResult<WebhookDeliveryStatus> {
        Ok(match DeliveryStatus::parse(&self.delivery.status)? {
            DeliveryStatus::Queued => WebhookDeliveryStatus::Queued,
            DeliveryStatus::Sending => WebhookDeliveryStatus::Sending,
            DeliveryStatus::Succeeded => WebhookDeliveryStatus::Succeeded,
            DeliveryStatus::Failed => WebhookDeliveryStatus::Failed,
        })
    }
    /// When it is tried next, while queued.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.delivery.status == DeliveryStatus::Queued.as_str()).then_some(self.delivery.due_at)
    }
    /// No attempt is made after this time (a day after the delivery was
    /// made or redelivered).
    async fn retries_until(&self) -> DateTime<Utc> {
        self.delivery.give_up_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.delivery.created_at
    }
    /// When it succeeded or was given up.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.delivery.finished_at
    }
    async fn failure_reason(&self) -> Option<&str> {
        self.delivery.failure_reason.as_deref()
    }
    /// Every request sent, oldest first.
    async fn attempts(&self, ctx: &Context<'_>) -> GqlResult<Vec<WebhookDeliveryAttemptNode>> {
        let attempts = match &self.attempts {
            Some(loaded) => loaded.clone(),
            None => {
                let scope = AppScope::new(self.delivery.app_id.into());
                webhooks::attempts(services(ctx).db(), scope, &[self.delivery.id]).await?
            }
        };
        Ok(attempts
            .into_iter()
            .map(WebhookDeliveryAttemptNode)
            .collect())
    }
}

pub struct WebhookDeliveryAttemptNode(webhook_delivery_attempt::Model);

#[Object(name = "WebhookDeliveryAttempt")]
impl WebhookDeliveryAttemptNode {
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
    async fn duration_ms(&self) -> i32 {
        i32::try_from(self.0.duration_ms).unwrap_or(i32::MAX)
    }
    /// The receiver's HTTP status; null when it did not answer.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    /// Why the attempt failed: no answer (and why), or a status other than 2xx.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn succeeded(&self) -> bool {
        self.0
            .status_code
            .is_some_and(|code| (200..300).contains(&code))
    }
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The app's webhooks, oldest first. Developers name the app in `appId`.
    async fn webhooks(
        &self,
        ctx: &Context<'_>,
        app_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<WebhookNode>> {
        let scope = super::managed_scope(ctx, app_id.as_ref(), AppAction::View).await?;
        let list = CursorList::new("webhooks", scope.app_id());
        let page =
            webhooks::list(services(ctx).db(), scope, list.forward_args(first, after)?).await?;
        Ok(list.connection(page, |w| w.id, WebhookNode))
    }

    /// One webhook of the app; NOT_FOUND when the app has no such webhook.
    async fn webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        app_id: Option<ID>,
    ) -> GqlResult<Option<WebhookNode>> {
        let scope = super::managed_scope(ctx, app_id.as_ref(), AppAction::View).await?;
        let found = find_webhook(services(ctx), scope, &id).await?;
        Ok(Some(WebhookNode(found)))
    }
}

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// Required for developers; may be omitted with the app's secret key.
    app_id: Option<ID>,
    /// An http(s) URL; a public address unless the server allows private ones.
    url: String,
    /// Event types to deliver (`message.created`, ...); at least one.
    event_types: Vec<String>,
}

#[derive(SimpleObject)]
pub struct CreateWebhookPayload {
    webhook: WebhookNode,
    /// `whsec_...`: the key of every delivery's signature. Shown only now.
    signing_secret: String,
}

#[derive(InputObject)]
pub struct UpdateWebhookInput {
    app_id: Option<ID>,
    id: ID,
    /// Omitted or null keeps it. Queued deliveries go to the new URL.
    url: Option<String>,
    /// Replaces the list; omitted or null keeps it.
    event_types: Option<Vec<String>>,
    /// Turns the webhook on or off; omitted or null keeps it.
    enabled: Option<bool>,
}

#[derive(SimpleObject)]
pub struct UpdateWebhookPayload {
    webhook: WebhookNode,
}

#[derive(InputObject)]
pub struct DeleteWebhookInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    deleted_webhook_id: ID,
}

#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    app_id: Option<ID>,
    id: ID,
    /// How long the replaced secret still signs deliveries (alongside the
    /// new one), in seconds: 0 to 604800 (7 days), 86400 when omitted.
    previous_secret_valid_for_seconds: Option<i32>,
}

#[derive(SimpleObject)]
pub struct RotateWebhookSecretPayload {
    webhook: WebhookNode,
    /// The new `whsec_...` secret. Shown only now.
    signing_secret: String,
}

#[derive(InputObject)]
pub struct RedeliverWebhookDeliveryInput {
    app_id: Option<ID>,
    /// The delivery (`dlv_...`).
    id: ID,
}

#[derive(SimpleObject)]
pub struct RedeliverWebhookDeliveryPayload {
    delivery: WebhookDeliveryNode,
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes a URL to event types. The signing secret is in the
    /// payload, and never shown again.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> GqlResult<CreateWebhookPayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let services = services(ctx);
        let url = callable_url(services, &input.url)?;
        let event_types = rules::event_types("eventTypes", &input.event_types)?;
        let id = WebhookId::generate();
        let (signing_secret, sealed) = new_signing_secret(services, scope, id);
        let created = webhooks::create(
            services.db(),
            scope,
            services.clock().now(),
            NewWebhook {
                id,
                url,
                event_types,
                signing_secret: sealed,
            },
        )
        .await?;
        Ok(CreateWebhookPayload {
            webhook: WebhookNode(created),
            signing_secret,
        })
    }

    /// Changes a webhook's URL, event types, or whether it is on.
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookInput,
    ) -> GqlResult<UpdateWebhookPayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let services = services(ctx);
        let id = WebhookId::parse_field(&input.id, "id")?;
        let changes = WebhookChanges {
            url: input
                .url
                .map(|url| callable_url(services, &url))
                .transpose()?,
            event_types: input
                .event_types
                .map(|names| rules::event_types("eventTypes", &names))
                .transpose()?,
            enabled: input.enabled,
        };
        let updated = webhooks::update(services.db(), scope, services.clock().now(), id, changes)
            .await?
            .ok_or_else(|| DomainError::not_found("webhook").with_field("id"))?;
        if input.enabled == Some(false) {
            // Queued deliveries of a webhook turned off are given up when
            // their turn comes.
            services.wake_worker();
        }
        Ok(UpdateWebhookPayload {
            webhook: WebhookNode(updated),
        })
    }

    /// Deletes a webhook, its deliveries and their log.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        input: DeleteWebhookInput,
    ) -> GqlResult<DeleteWebhookPayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let services = services(ctx);
        let id = WebhookId::parse_field(&input.id, "id")?;
        if !webhooks::delete(services.db(), scope, id).await? {
            return Err(DomainError::not_found("webhook").with_field("id"));
        }
        Ok(DeleteWebhookPayload {
            deleted_webhook_id: ID(id.to_string()),
        })
    }

    /// Gives a webhook a new signing secret. The replaced one keeps signing
    /// too (a second `v1`) for `previousSecretValidForSeconds`, so receivers
    /// can switch without dropping deliveries.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: RotateWebhookSecretInput,
    ) -> GqlResult<RotateWebhookSecretPayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let services = services(ctx);
        let id = WebhookId::parse_field(&input.id, "id")?;
        let validity = rules::previous_secret_validity(
            "previousSecretValidForSeconds",
            input.previous_secret_valid_for_seconds,
        )?;
        let now = services.clock().now();
        let (signing_secret, sealed) = new_signing_secret(services, scope, id);
        let previous_until = (validity > chrono::Duration::zero()).then(|| now + validity);
        let rotated =
            webhooks::rotate_secret(services.db(), scope, now, id, sealed, previous_until)
                .await?
                .ok_or_else(|| DomainError::not_found("webhook").with_field("id"))?;
        Ok(RotateWebhookSecretPayload {
            webhook: WebhookNode(rotated),
            signing_secret,
        })
    }

    /// Sends a delivery again now, whatever became of it, with a fresh day
    /// of retries. CONFLICT while it is being sent or its webhook is off.
    async fn redeliver_webhook_delivery(
        &self,
        ctx: &Context<'_>,
        input: RedeliverWebhookDeliveryInput,
    ) -> GqlResult<RedeliverWebhookDeliveryPayload> {
        let scope = super::managed_scope(ctx, input.app_id.as_ref(), AppAction::Build).await?;
        let services = services(ctx);
        let id = WebhookDeliveryId::parse_field(&input.id, "id")?;
        let delivery =
            webhooks::redeliver(services.db(), scope, services.clock().now(), id).await?;
        services.wake_worker();
        Ok(RedeliverWebhookDeliveryPayload {
            delivery: WebhookDeliveryNode {
                delivery,
                attempts: None,
            },
        })
    }
}
