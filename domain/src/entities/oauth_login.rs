//! One login through an outside provider, from its start to the app's
//! exchange of the one-time code: the state (hashed, used once), the PKCE
//! verifier (sealed), where the browser returns, and once the provider
//! called back, the user and the code the app exchanges for tokens.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub provider_id: Uuid,
    #[sea_orm(unique)]
    pub state_hash: String,
    /// Sealed with purpose `oauth_login.pkce_verifier` and this row's id.
    pub pkce_verifier_sealed: String,
    /// Orbit's callback URL as sent in the authorization request; the token
    /// request sends exactly this again.
    pub callback_url: String,
    /// The app's page the browser goes back to.
    pub redirect_url: String,
    /// The app's own `state`, given back on the redirect.
    pub client_state: Option<String>,
    /// A signed-in user linking the identity to themself.
    pub link_user_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// When the provider called back (the state is spent from then on).
    pub callback_at: Option<DateTimeUtc>,
    #[sea_orm(unique)]
    pub code_hash: Option<String>,
    pub user_id: Option<Uuid>,
    pub code_expires_at: Option<DateTimeUtc>,
    pub exchanged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
