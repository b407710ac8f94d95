//! One event for one webhook: a work item (see `persistence::leases` for
//! the lease columns) sent until the receiver accepts it, it answers 410,
//! or the retry window ends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub webhook_id: Uuid,
    /// The event (its first topic's row when the change was written to
    /// several): the receiver's idempotency key.
    pub event_id: Uuid,
    pub event_type: String,
    /// The event's payload, copied: deliveries outlive the events' retention.
    pub data: Json,
    pub occurred_at: DateTimeUtc,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub due_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    /// Claims since the delivery was made or redelivered: what the backoff
    /// grows with.
    pub attempts: i32,
    /// No attempt is made after this; a failure then is final.
    pub give_up_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// Why a `failed` delivery stopped.
    pub failure_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
