//! An app's login settings. An app without a row has the defaults: no
//! redirect origins, no passwordless sign-up, every way of signing in on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "app_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: Uuid,
    /// A JSON array of origins (`https://example.com`, `http://localhost:3000`)
    /// a magic link may lead to.
    pub allowed_redirect_origins: Json,
    /// A verified code or link for an email with no account creates the account.
    pub passwordless_sign_up: bool,
    pub updated_at: DateTimeUtc,
    /// `logIn` with a password.
    pub password_login: bool,
    /// `signUp` with a password.
    pub password_sign_up: bool,
    /// `requestLoginCode` / `verifyLoginCode`.
    pub email_code_login: bool,
    /// `requestMagicLink` / `verifyMagicLink`.
    pub magic_link_login: bool,
    /// Login with the app's outside OAuth providers.
    pub oauth_login: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
