//! A routine: an agent's trigger and action. Its trigger and action are
//! stored as JSON in the API's shape (`domain::routines`); the columns the
//! scheduler and event matching search on are kept beside them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "routines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub agent_id: Uuid,
    pub name: String,
    /// `draft`, `active`, `paused` or `completed`.
    pub status: String,
    /// `domain::routines::Trigger` as JSON.
    pub trigger: Json,
    /// `cron`, `interval`, `once` or `event`.
    pub trigger_kind: String,
    /// An event trigger's type and filters, for matching committed events.
    pub event_type: Option<String>,
    pub event_team_id: Option<Uuid>,
    pub event_thread_id: Option<Uuid>,
    /// `domain::routines::Action` as JSON.
    pub action: Json,
    pub timeout_secs: i32,
    /// Where interval ticks count from: the last activation (or trigger change).
    pub anchor_at: Option<DateTimeUtc>,
    /// When it fires next; null unless active with a time trigger.
    pub next_run_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
