//! Login with outside OAuth providers: the providers an app configures
//! (client secret sealed), the identities linked to users by issuer and
//! subject, and the logins in flight (state, PKCE verifier, one-time code).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::{cascade_to, index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("identity_providers")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("slug"))
                    .col(string("display_name"))
                    .col(string("preset"))
                    .col(text("client_id"))
                    .col(text("client_secret_sealed"))
                    .col(text("authorization_url"))
                    .col(text("token_url"))
                    .col(text("userinfo_url"))
                    .col(text_null("emails_url"))
                    .col(text("scopes"))
                    .col(text("issuer"))
                    .col(string("subject_claim"))
                    .col(string("email_claim"))
                    .col(string_null("email_verified_claim"))
                    .col(string_null("name_claim"))
                    .col(string("client_auth"))
                    .col(boolean("allow_sign_up"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("identity_providers", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("identity_providers", &["app_id", "slug"]))
            .await?;

        // Identities outlive their provider's configuration: deleting a
        // provider and adding it again finds the same users.
        manager
            .create_table(
                Table::create()
                    .table("user_identities")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("user_id"))
                    .col(text("issuer"))
                    .col(text("subject"))
                    .col(string("provider_slug"))
                    .col(text_null("email"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_login_at"))
                    .foreign_key(&mut cascade_to("user_identities", "app_id", "apps"))
                    .foreign_key(&mut cascade_to("user_identities", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("user_identities", &["app_id", "issuer", "subject"]))
            .await?;
        manager
            .create_index(index("user_identities", &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("oauth_logins")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("provider_id"))
                    .col(string("state_hash"))
                    .col(text("pkce_verifier_sealed"))
                    .col(text("callback_url"))
                    .col(text("redirect_url"))
                    .col(text_null("client_state"))
                    .col(uuid_null("link_user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("callback_at"))
                    .col(string_null("code_hash"))
                    .col(uuid_null("user_id"))
                    .col(timestamp_with_time_zone_null("code_expires_at"))
                    .col(timestamp_with_time_zone_null("exchanged_at"))
                    .foreign_key(&mut cascade_to("oauth_logins", "app_id", "apps"))
                    .foreign_key(&mut cascade_to(
                        "oauth_logins",
                        "provider_id",
                        "identity_providers",
                    ))
                    .foreign_key(&mut cascade_to("oauth_logins", "link_user_id", "users"))
                    .foreign_key(&mut cascade_to("oauth_logins", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("oauth_logins", &["state_hash"]))
            .await?;
        manager
            .create_index(unique("oauth_logins", &["code_hash"]))
            .await?;
        manager
            .create_index(index("oauth_logins", &["app_id", "expires_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["oauth_logins", "user_identities", "identity_providers"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
