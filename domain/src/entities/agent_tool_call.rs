//! One tool call of an agent's reply: what the model asked for, and how it
//! ended. Recorded before the call runs; its row id is the call's
//! idempotency key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_tool_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub reply_id: Uuid,
    /// The model turn that asked for it, from 0.
    pub step: i32,
    /// Its place among that turn's calls.
    pub position: i32,
    /// The model's id for the call.
    pub call_id: String,
    /// The tool called; `None` when the model named none of the agent's.
    pub tool_id: Option<Uuid>,
    pub tool_name: String,
    pub arguments: Json,
    /// `awaiting_approval`, `running`, `completed` or `failed`.
    pub status: String,
    pub result: Option<Json>,
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// For a tool that requires approval: when the call counts as refused
    /// if no one decided.
    pub approval_expires_at: Option<DateTimeUtc>,
    /// When someone approved or refused it.
    pub decided_at: Option<DateTimeUtc>,
    /// The user who decided (`None` for the app's secret key).
    pub decided_by_user_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
