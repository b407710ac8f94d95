//! One reply an agent owes a thread: queued when a message (or a routine's
//! prompt) asks for it, worked on by one process at a time under a lease
//! (`persistence::leases`), and ended once with its message.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_replies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub thread_id: Uuid,
    pub agent_id: Uuid,
    /// The message that asked; unique with `agent_id`, so one message gets
    /// at most one reply from each agent.
    pub trigger_message_id: Option<Uuid>,
    /// What to answer when no message asked (a routine's prompt).
    pub prompt: Option<String>,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub status: String,
    pub due_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub attempts: i32,
    /// Times the reply paused for a tool call's approval: each going on
    /// after one is a claim (counted in `attempts`) but no failed attempt.
    pub pauses: i32,
    pub model: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    /// Why it failed (or why the last attempt did, while it waits to retry).
    pub error: Option<String>,
    pub reply_message_id: Option<Uuid>,
    pub cancel_requested_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
