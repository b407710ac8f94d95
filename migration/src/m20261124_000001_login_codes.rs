//! Passwordless login: per-app settings (the origins a magic link may lead
//! to, whether a first verified login creates the account), the emailed
//! one-time codes (one live code per app and email: a new one replaces the
//! row) and magic-link tokens. Codes and tokens are stored hashed.

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
                    .table("app_settings")
                    .col(pk_uuid("app_id"))
                    .col(json_binary("allowed_redirect_origins"))
                    .col(boolean("passwordless_sign_up").default(false))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut cascade_to("app_settings", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("login_codes")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("email_normalized"))
                    .col(string("code_hash"))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(&mut cascade_to("login_codes", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("login_codes", &["app_id", "email_normalized"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("magic_links")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("email_normalized"))
                    .col(string("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(&mut cascade_to("magic_links", "app_id", "apps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("magic_links", &["token_hash"]))
            .await?;
        manager
            .create_index(index("magic_links", &["app_id", "email_normalized"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["magic_links", "login_codes", "app_settings"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
