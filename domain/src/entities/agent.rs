//! An AI agent of an app: its instructions, the model it speaks through, and
//! when it answers in the threads it takes part in.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub name: String,
    /// Unique in the app, lower case; `@handle` mentions the agent.
    pub handle: String,
    pub instructions: String,
    pub provider_id: Uuid,
    pub model: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<i32>,
    /// `always` or `mention`.
    pub reply_mode: String,
    /// `active` or `paused`.
    pub status: String,
    /// The most model turns a reply may take (each may call tools).
    pub max_steps: i32,
    /// The built-in tools it has: `read_thread,post_message,run_routine`,
    /// any of them (`BuiltinTool::read`).
    pub builtin_tools: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
