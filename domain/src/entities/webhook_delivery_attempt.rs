//! The log of a delivery: one row per request sent (or refused before
//! sending).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub delivery_id: Uuid,
    /// When the request started (the server's clock).
    pub attempted_at: DateTimeUtc,
    /// How long it took, in wall-clock milliseconds.
    pub duration_ms: i64,
    /// The receiver's answer; none when there was no answer.
    pub status_code: Option<i32>,
    /// What went wrong: no answer (and why), or an answer that is not 2xx.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
