//! Webhooks, their deliveries and the log of attempts.
//!
//! Deliveries are made in the transaction of the change they report
//! ([`enqueue`], the `webhooks` reaction), so a committed change always
//! has its deliveries and a rolled-back one never does, whatever happens to
//! the process afterwards. They are lease items (`leases`): the worker
//! claims due ones ([`claim_due`]), sends them and records the attempt and
//! what follows from it in one transaction ([`record_attempt`]).

use chrono::{DateTime, Duration, Utc};
use orbit_domain::entities::{webhook, webhook_delivery as delivery, webhook_delivery_attempt};
use orbit_domain::events::EventType;
use orbit_domain::ids::{AppScope, WebhookDeliveryId, WebhookId};
use orbit_domain::webhooks::{DeliveryStatus, MAX_WEBHOOKS_PER_APP, RETRY_WINDOW};
use orbit_domain::{DomainError, DomainResult};
use sea_orm::sea_query::{Expr, LockType, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use crate::queues::Queue;
use crate::reaction::{Happened, InChange, declare_interest};
use crate::{Db, Page, PageArgs, db_error, keyset, leases};

/// The lease table of deliveries.
pub const DELIVERIES: &str = Queue::WebhookDeliveries.as_str();

/// Why a webhook is off when `updateWebhook` turned it off.
pub const DISABLED_BY_UPDATE: &str = "turned off with updateWebhook";

pub struct NewWebhook {
    pub id: WebhookId,
    pub url: String,
    pub event_types: Vec<EventType>,
    /// Sealed.
    pub signing_secret: String,
}

fn event_type_names(types: &[EventType]) -> Value {
    Value::from(types.iter().map(|t| t.as_str()).collect::<Vec<_>>())
}

/// The event type names a webhook subscribes to.
pub fn subscribed_types(webhook: &webhook::Model) -> Vec<String> {
    names_in(&webhook.event_types)
}

fn names_in(stored: &Value) -> Vec<String> {
    stored
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[orbit_macros::boxed]
pub async fn create(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    new: NewWebhook,
) -> DomainResult<webhook::Model> {
    let txn = db.conn().begin().await.map_err(db_error)?;
    let existing = webhook::Entity::find()
        .filter(webhook::Column::AppId.eq(scope.uuid()))
        .count(&txn)
        .await
        .map_err(db_error)?;
    if existing >= MAX_WEBHOOKS_PER_APP {
        return Err(DomainError::conflict(format!(
            "an app has at most {MAX_WEBHOOKS_PER_APP} webhooks; delete one first"
        )));
    }
    declare_interest(&txn, scope, new.event_types.iter().copied(), REACTION).await?;
    let created = webhook::ActiveModel {
        id: Set(new.id.uuid()),
        app_id: Set(scope.uuid()),
        url: Set(new.url),
        event_types: Set(event_type_names(&new.event_types)),
        signing_secret: Set(new.signing_secret),
        previous_signing_secret: Set(None),
        previous_secret_expires_at: Set(None),
        disabled_at: Set(None),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(db_error)?;
    db.commit(txn).await?;
    Ok(created)
}

#[orbit_macros::boxed]
pub async fn find(db: &Db, scope: AppScope, id: WebhookId) -> DomainResult<Option<webhook::Model>> {
    webhook::Entity::find_by_id(id.uuid())
        .filter(webhook::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// The app's webhooks, oldest first.
#[orbit_macros::boxed]
pub async fn list(db: &Db, scope: AppScope, args: PageArgs) -> DomainResult<Page<webhook::Model>> {
    let select = webhook::Entity::find().filter(webhook::Column::AppId.eq(scope.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(webhook::Column::AppId),
        webhook::Column::Id,
        false,
        args,
    )
    .await
}

/// What `updateWebhook` changes; `None` keeps the value.
#[derive(Debug, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
}

#[orbit_macros::boxed]
pub async fn update(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    id: WebhookId,
    changes: WebhookChanges,
) -> DomainResult<Option<webhook::Model>> {
    let Some(found) = find(db, scope, id).await? else {
        return Ok(None);
    };
    let was_enabled = found.disabled_at.is_none();
    let mut active: webhook::ActiveModel = found.into();
    if let Some(url) = changes.url {
        active.url = Set(url);
    }
    if let Some(types) = changes.event_types {
        // Said before the webhook takes the types, so no event after is missed.
        declare_interest(db.conn(), scope, types.iter().copied(), REACTION).await?;
        active.event_types = Set(event_type_names(&types));
    }
    match changes.enabled {
        Some(true) => {
            active.disabled_at = Set(None);
            active.disabled_reason = Set(None);
        }
        Some(false) if was_enabled => {
            active.disabled_at = Set(Some(now));
            active.disabled_reason = Set(Some(DISABLED_BY_UPDATE.to_owned()));
        }
        Some(false) | None => {}
    }
    active.updated_at = Set(now);
    let updated = active.update(db.conn()).await.map_err(db_error)?;
    Ok(Some(updated))
}

/// Makes `signing_secret` (sealed) the webhook's secret. The one it
/// replaces keeps signing until `previous_until`; `None` drops it at once.
#[orbit_macros::boxed]
pub async fn rotate_secret(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    id: WebhookId,
    signing_secret: String,
    previous_until: Option<DateTime<Utc>>,
) -> DomainResult<Option<webhook::Model>> {
    let Some(found) = find(db, scope, id).await? else {
        return Ok(None);
    };
    let previous = previous_until.map(|until| (found.signing_secret.clone(), until));
    let mut active: webhook::ActiveModel = found.into();
    active.signing_secret = Set(signing_secret);
    active.previous_signing_secret = Set(previous.as_ref().map(|(secret, _)| secret.clone()));
    active.previous_secret_expires_at = Set(previous.map(|(_, until)| until));
    active.updated_at = Set(now);
    let updated = active.update(db.conn()).await.map_err(db_error)?;
    Ok(Some(updated))
}

/// Deletes the webhook with its deliveries and their log. `false`: no such webhook.
#[orbit_macros::boxed]
pub async fn delete(db: &Db, scope: AppScope, id: WebhookId) -> DomainResult<bool> {
    let deleted = webhook::Entity::delete_many()
        .filter(webhook::Column::Id.eq(id.uuid()))
        .filter(webhook::Column::AppId.eq(scope.uuid()))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    Ok(deleted.rows_affected == 1)
}

/// The reaction that queues deliveries of the app's events.
pub const REACTION: &str = "webhooks";

/// Queues a delivery of each change to each enabled webhook of the app
/// subscribed to its type, in the caller's transaction.
pub(crate) async fn enqueue(change: &dyn InChange, happened: &[Happened]) -> DomainResult<()> {
    let (conn, scope, now) = (change.txn(), change.scope(), change.now());
    let changes: Vec<(Uuid, EventType, Value)> = happened
        .iter()
        .filter(|happened| happened.event_type().goes_to_webhooks())
        .map(|happened| {
            (
                happened.event_id,
                happened.event_type(),
                happened.event.payload(),
            )
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let mut subscribed = webhook::Entity::find()
        .select_only()
        .column(webhook::Column::Id)
        .column(webhook::Column::EventTypes)
        .filter(webhook::Column::AppId.eq(scope.uuid()))
        .filter(webhook::Column::DisabledAt.is_null());
    if conn.get_database_backend() == DbBackend::Postgres {
        // A webhook deleted at this moment waits for this change (and takes
        // its new deliveries with it) instead of failing the change on the
        // deliveries' foreign key. SQLite has one writer anyway.
        subscribed = subscribed.lock(LockType::KeyShare);
    }
    let hooks: Vec<(Uuid, Value)> = subscribed.into_tuple().all(conn).await.map_err(db_error)?;
    let mut deliveries = Vec::new();
    for (hook, types) in hooks {
        let types = names_in(&types);
        for (event_id, event_type, data) in &changes {
            if types.iter().any(|t| t == event_type.as_str()) {
                deliveries.push(delivery::ActiveModel {
                    id: Set(WebhookDeliveryId::generate().uuid()),
                    app_id: Set(scope.uuid()),
                    webhook_id: Set(hook),
                    event_id: Set(*event_id),
                    event_type: Set(event_type.as_str().to_owned()),
                    data: Set(data.clone()),
                    occurred_at: Set(now),
                    status: Set(leases::QUEUED.to_owned()),
                    due_at: Set(now),
                    lease_owner: Set(None),
                    lease_until: Set(None),
                    attempts: Set(0),
                    give_up_at: Set(now + RETRY_WINDOW),
                    created_at: Set(now),
                    finished_at: Set(None),
                    failure_reason: Set(None),
                });
            }
        }
    }
    if deliveries.is_empty() {
        return Ok(());
    }
    delivery::Entity::insert_many(deliveries)
        .exec_without_returning(conn)
        .await
        .map_err(db_error)?;
    change.queued(Queue::WebhookDeliveries);
    Ok(())
}

/// A webhook's deliveries, newest first.
#[orbit_macros::boxed]
pub async fn deliveries(
    db: &Db,
    scope: AppScope,
    webhook: WebhookId,
    args: PageArgs,
) -> DomainResult<Page<delivery::Model>> {
    let select = delivery::Entity::find()
        .filter(delivery::Column::AppId.eq(scope.uuid()))
        .filter(delivery::Column::WebhookId.eq(webhook.uuid()));
    keyset::page(
        db.conn(),
        select,
        Some(delivery::Column::WebhookId),
        delivery::Column::Id,
        true,
        args,
    )
    .await
}

/// The attempts of these deliveries, oldest first.
#[orbit_macros::boxed]
pub async fn attempts(
    db: &Db,
    scope: AppScope,
    deliveries: &[Uuid],
) -> DomainResult<Vec<webhook_delivery_attempt::Model>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    webhook_delivery_attempt::Entity::find()
        .filter(webhook_delivery_attempt::Column::AppId.eq(scope.uuid()))
        .filter(webhook_delivery_attempt::Column::DeliveryId.is_in(deliveries.iter().copied()))
        .order_by_asc(webhook_delivery_attempt::Column::Id)
        .all(db.conn())
        .await
        .map_err(db_error)
}

#[orbit_macros::boxed]
pub async fn find_delivery(
    db: &Db,
    scope: AppScope,
    id: WebhookDeliveryId,
) -> DomainResult<Option<delivery::Model>> {
    delivery::Entity::find_by_id(id.uuid())
        .filter(delivery::Column::AppId.eq(scope.uuid()))
        .one(db.conn())
        .await
        .map_err(db_error)
}

/// Queues a delivery to be sent now, with a fresh retry window, whatever
/// became of it. CONFLICT while it is being sent or its webhook is off.
#[orbit_macros::boxed]
pub async fn redeliver(
    db: &Db,
    scope: AppScope,
    now: DateTime<Utc>,
    id: WebhookDeliveryId,
) -> DomainResult<delivery::Model> {
    const FIELD: &str = "id";
    let not_found = || DomainError::not_found("webhook delivery").with_field(FIELD);
    let found = find_delivery(db, scope, id).await?.ok_or_else(not_found)?;
    let hook = find(db, scope, WebhookId(found.webhook_id))
        .await?
        .ok_or_else(not_found)?;
    if hook.disabled_at.is_some() {
        return Err(DomainError::conflict(
            "the webhook is turned off; turn it on with updateWebhook first",
        )
        .with_field(FIELD));
    }
    let nothing = Expr::value(Option::<String>::None);
    let requeued = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(leases::QUEUED))
        .col_expr(delivery::Column::DueAt, Expr::value(now))
        .col_expr(delivery::Column::Attempts, Expr::value(0))
        .col_expr(delivery::Column::GiveUpAt, Expr::value(now + RETRY_WINDOW))
        .col_expr(
            delivery::Column::FinishedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(delivery::Column::FailureReason, nothing.clone())
        .col_expr(delivery::Column::LeaseOwner, nothing)
        .col_expr(
            delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(delivery::Column::Id.eq(id.uuid()))
        .filter(delivery::Column::AppId.eq(scope.uuid()))
        .filter(delivery::Column::Status.ne(leases::RUNNING))
        .exec(db.conn())
        .await
        .map_err(db_error)?;
    if requeued.rows_affected == 0 {
        return Err(
            DomainError::conflict("the delivery is being sent right now").with_field(FIELD),
        );
    }
    find_delivery(db, scope, id).await?.ok_or_else(not_found)
}

/// Claims up to `limit` due deliveries of any app for `owner` (the worker
/// serves every app; each delivery names its own).
#[orbit_macros::boxed]
pub async fn claim_due(
    db: &Db,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> DomainResult<Vec<Uuid>> {
    leases::claim(db, DELIVERIES, owner, now, lease, limit).await
}

/// A claimed delivery and its webhook; `None` when the webhook was deleted
/// meanwhile (its deliveries went with it).
#[orbit_macros::boxed]
pub async fn claimed(db: &Db, id: Uuid) -> DomainResult<Option<(delivery::Model, webhook::Model)>> {
    let Some(found) = delivery::Entity::find_by_id(id)
        .one(db.conn())
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    let hook = webhook::Entity::find_by_id(found.webhook_id)
        .filter(webhook::Column::AppId.eq(found.app_id))
        .one(db.conn())
        .await
        .map_err(db_error)?;
    Ok(hook.map(|hook| (found, hook)))
}

/// One request to a receiver, for the log.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Given up, for this reason.
    Failed(String),
    /// The receiver said the URL is gone: given up, and the webhook is
    /// turned off with this reason.
    Gone(String),
}

/// Records `attempt` (if one was made) and its outcome in one transaction,
/// only while `owner` still holds the delivery's lease. `false`: the lease
/// was lost (another process took the delivery over, or it was deleted)
/// and nothing was written.
#[orbit_macros::boxed]
pub async fn record_attempt(
    db: &Db,
    claimed: &delivery::Model,
    owner: &str,
    now: DateTime<Utc>,
    attempt: Option<NewAttempt>,
    outcome: Outcome,
) -> DomainResult<bool> {
    let scope_app = claimed.app_id;
    let txn = db.conn().begin().await.map_err(db_error)?;
    if let Outcome::Gone(reason) = &outcome {
        // The webhook's row before the delivery's, in the order a deletion
        // of the webhook locks them, so the two cannot deadlock. Rolled
        // back with the rest if the lease turns out to be lost.
        webhook::Entity::update_many()
            .col_expr(webhook::Column::DisabledAt, Expr::value(now))
            .col_expr(webhook::Column::DisabledReason, Expr::value(reason.clone()))
            .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
            .filter(webhook::Column::Id.eq(claimed.webhook_id))
            .filter(webhook::Column::AppId.eq(scope_app))
            .filter(webhook::Column::DisabledAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_error)?;
    }
    let held = match &outcome {
        Outcome::RetryAt(at) => leases::requeue(&txn, DELIVERIES, claimed.id, owner, *at).await?,
        Outcome::Succeeded => {
            finish_delivery(
                &txn,
                claimed.id,
                owner,
                now,
                DeliveryStatus::Succeeded,
                None,
            )
            .await?
        }
        Outcome::Failed(reason) | Outcome::Gone(reason) => {
            let reason = Some(reason.clone());
            finish_delivery(&txn, claimed.id, owner, now, DeliveryStatus::Failed, reason).await?
        }
    };
    if !held {
        return Ok(false);
    }
    if let Some(attempt) = attempt {
        webhook_delivery_attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            app_id: Set(scope_app),
            delivery_id: Set(claimed.id),
            attempted_at: Set(attempt.attempted_at),
            duration_ms: Set(attempt.duration_ms),
            status_code: Set(attempt.status_code),
            error: Set(attempt.error),
        }
        .insert(&txn)
        .await
        .map_err(db_error)?;
    }
    db.commit(txn).await?;
    Ok(true)
}

/// Ends the lease with the delivery's result in one statement (see
/// `leases::finish_with`).
async fn finish_delivery<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    owner: &str,
    now: DateTime<Utc>,
    status: DeliveryStatus,
    failure_reason: Option<String>,
) -> DomainResult<bool> {
    let result: Vec<(&'static str, SimpleExpr)> = vec![
        ("finished_at", now.into()),
        ("failure_reason", failure_reason.into()),
    ];
    leases::finish_with(conn, DELIVERIES, id, owner, status.as_str(), result).await
}

#[cfg(test)]
mod tests {
    use orbit_domain::webhooks::DeliveryStatus;

    use crate::leases;

    #[test]
    fn delivery_statuses_are_the_lease_states() {
        assert_eq!(DeliveryStatus::Queued.as_str(), leases::QUEUED);
        assert_eq!(DeliveryStatus::Sending.as_str(), leases::RUNNING);
    }
}
