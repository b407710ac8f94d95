//! A user's account at an outside provider, linked by the provider's issuer
//! and subject (never by email). Unique per app: one person at a provider is
//! one user of the app.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub user_id: Uuid,
    pub issuer: String,
    pub subject: String,
    /// The provider (slug) it was last used through.
    pub provider_slug: String,
    /// The email the provider gave at the last login, for display only.
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_login_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
