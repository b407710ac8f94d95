//! One run of a routine: queued when it fires (or is asked for, or an event
//! matches), worked on by one process at a time under a lease
//! (`persistence::leases`), and ended once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "routine_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub routine_id: Uuid,
    /// `schedule`, `manual` or `event`.
    pub cause: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub due_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub attempts: i32,
    /// The tick a scheduled run is for; unique with `routine_id`.
    pub scheduled_for: Option<DateTimeUtc>,
    /// `runRoutine`'s key; unique in the app.
    pub idempotency_key: Option<String>,
    /// The event that started it; unique with `routine_id`.
    pub event_id: Option<Uuid>,
    /// That event's type and data: `{"type", "data"}`.
    pub event: Option<Json>,
    /// The thread the action writes into, when it has one.
    pub thread_id: Option<Uuid>,
    /// The reply a `promptAgent` run waits for.
    pub reply_id: Option<Uuid>,
    /// The message the run posted (or the agent's answer).
    pub message_id: Option<Uuid>,
    /// The status code a `callUrl` run got.
    pub http_status: Option<i32>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
