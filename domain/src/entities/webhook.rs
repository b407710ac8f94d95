//! A URL an app subscribed to some event types, with the secret its
//! deliveries are signed with.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub url: String,
    /// A JSON array of event type names (`message.created`, ...).
    pub event_types: Json,
    /// The signing secret, sealed (`webhook.signing_secret`).
    pub signing_secret: String,
    /// The secret before the last rotation, sealed the same way; it still
    /// signs deliveries until `previous_secret_expires_at`.
    pub previous_signing_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Set while the webhook is off: nothing is queued or sent for it.
    pub disabled_at: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
