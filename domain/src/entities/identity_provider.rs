//! An outside OAuth provider (Google, GitHub, or any authorization-code
//! provider) that an app's users log in with. The client secret is stored
//! sealed (`SealContext` purpose `identity_provider.client_secret`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "identity_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// How front ends name it (`google`); unique in the app.
    pub slug: String,
    pub display_name: String,
    /// `google`, `github` or `custom`: what filled the defaults.
    pub preset: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// A GitHub-style list of the person's emails, read for a verified address.
    pub emails_url: Option<String>,
    /// Space-separated, as the `scope` parameter sends them.
    pub scopes: String,
    /// With the subject, names a person for good: identities are linked by both.
    pub issuer: String,
    pub subject_claim: String,
    pub email_claim: String,
    pub email_verified_claim: Option<String>,
    pub name_claim: Option<String>,
    /// `basic` or `post`: how Orbit authenticates at the token endpoint.
    pub client_auth: String,
    /// Whether a person without an account gets one on first login.
    pub allow_sign_up: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
