//! Where an app's agents get their words: an OpenAI-compatible chat
//! completions endpoint, or the scripted provider. The API key is stored
//! sealed (see `Sealer`), never in clear.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub name: String,
    /// `openai_compatible` or `scripted`.
    pub kind: String,
    pub base_url: Option<String>,
    /// Sealed with `SealContext::new(app, "model_provider.api_key", mpr_id)`.
    pub api_key_sealed: Option<String>,
    /// The scripted provider's rules.
    pub script: Option<Json>,
    pub request_timeout_secs: i32,
    pub idle_timeout_secs: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
