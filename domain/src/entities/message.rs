//! A message in a thread. Deletion is soft: the row stays, its content goes.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub thread_id: Uuid,
    pub author_user_id: Option<Uuid>,
    /// Set instead of `author_user_id` on an agent's reply.
    pub author_agent_id: Option<Uuid>,
    pub content: Option<String>,
    pub metadata: Option<Json>,
    /// `sent` for people's messages; an agent's reply is `complete`,
    /// `failed` or `cancelled`.
    pub status: String,
    /// The model an agent's reply came from, and what it cost.
    pub model: Option<String>,
    pub prompt_tokens: Option<i32>,
    pub completion_tokens: Option<i32>,
    /// Unique per thread and author, so a retried send returns the first message.
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub edited_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
