//! The core: apps, keys, users, sessions, teams, threads, messages and the
//! event outbox. Every tenant table carries `app_id`; the indexes are the ones
//! keyset pagination and the per-request lookups need.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::indexes::{index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from: &'static str,
    column: &'static str,
    to: &'static str,
    to_column: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from}_{column}"))
        .from(from, column)
        .to(to, to_column)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("apps")
                    .col(pk_uuid("id"))
                    .col(string("name"))
                    .col(boolean("is_console"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("email"))
                    .col(string("email_normalized"))
                    .col(string("display_name"))
                    .col(string_null("timezone"))
                    .col(string_null("avatar_url"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("users", "app_id", "apps", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("users", &["app_id", "email_normalized"]))
            .await?;
        manager
            .create_index(index("users", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("app_members")
                    .col(uuid("app_id"))
                    .col(uuid("user_id"))
                    .col(string("role"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("app_id").col("user_id"))
                    .foreign_key(&mut fk("app_members", "app_id", "apps", "id"))
                    .foreign_key(&mut fk("app_members", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("app_members", &["user_id", "app_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("kind"))
                    .col(string("environment"))
                    .col(string("name"))
                    .col(string("lookup_prefix"))
                    .col(string("secret_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk("api_keys", "app_id", "apps", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("api_keys", &["lookup_prefix"]))
            .await?;
        manager
            .create_index(index("api_keys", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("password_credentials")
                    .col(pk_uuid("user_id"))
                    .col(uuid("app_id"))
                    .col(string("password_hash"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("password_credentials", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_used_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk("sessions", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("sessions", &["user_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("session_id"))
                    .col(string("token_hash"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("spent_at"))
                    .foreign_key(&mut fk("refresh_tokens", "session_id", "sessions", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("refresh_tokens", &["token_hash"]))
            .await?;
        manager
            .create_index(index("refresh_tokens", &["session_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("teams")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("name"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("teams", "app_id", "apps", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("teams", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("team_members")
                    .col(uuid("team_id"))
                    .col(uuid("user_id"))
                    .col(uuid("app_id"))
                    .col(string("role"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("team_id").col("user_id"))
                    .foreign_key(&mut fk("team_members", "team_id", "teams", "id"))
                    .foreign_key(&mut fk("team_members", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("team_members", &["user_id", "team_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("team_invitations")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("team_id"))
                    .col(string("email_normalized"))
                    .col(string("role"))
                    .col(string("code_hash"))
                    .col(uuid_null("invited_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .foreign_key(&mut fk("team_invitations", "team_id", "teams", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("team_invitations", &["code_hash"]))
            .await?;
        manager
            .create_index(index("team_invitations", &["team_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("threads")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("title"))
                    .col(uuid_null("owner_user_id"))
                    .col(uuid_null("team_id"))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("last_message_at"))
                    .col(uuid("activity_key"))
                    .foreign_key(&mut fk("threads", "app_id", "apps", "id"))
                    .foreign_key(&mut fk("threads", "owner_user_id", "users", "id"))
                    .foreign_key(&mut fk("threads", "team_id", "teams", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("threads", &["app_id", "activity_key"]))
            .await?;
        manager
            .create_index(index("threads", &["team_id", "activity_key"]))
            .await?;
        manager
            .create_index(index("threads", &["owner_user_id", "activity_key"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("thread_participants")
                    .col(uuid("thread_id"))
                    .col(uuid("user_id"))
                    .col(uuid("app_id"))
                    .col(timestamp_with_time_zone("added_at"))
                    .primary_key(Index::create().col("thread_id").col("user_id"))
                    .foreign_key(&mut fk("thread_participants", "thread_id", "threads", "id"))
                    .foreign_key(&mut fk("thread_participants", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("thread_participants", &["user_id", "thread_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("thread_reads")
                    .col(uuid("thread_id"))
                    .col(uuid("user_id"))
                    .col(uuid("app_id"))
                    .col(uuid("last_read_message_id"))
                    .col(timestamp_with_time_zone("read_at"))
                    .primary_key(Index::create().col("thread_id").col("user_id"))
                    .foreign_key(&mut fk("thread_reads", "thread_id", "threads", "id"))
                    .foreign_key(&mut fk("thread_reads", "user_id", "users", "id"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("messages")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(uuid("thread_id"))
                    .col(uuid_null("author_user_id"))
                    .col(text_null("content"))
                    .col(json_binary_null("metadata"))
                    .col(string("status"))
                    .col(string_null("idempotency_key"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("edited_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk("messages", "thread_id", "threads", "id"))
                    .to_owned(),
            )
            .await?;
        // The page query: WHERE thread_id = ? AND id > ? ORDER BY id LIMIT n.
        manager
            .create_index(index("messages", &["thread_id", "id"]))
            .await?;
        manager
            .create_index(unique(
                "messages",
                &["thread_id", "author_user_id", "idempotency_key"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("events")
                    .col(pk_uuid("id"))
                    .col(uuid("app_id"))
                    .col(string("topic"))
                    .col(big_integer("seq"))
                    .col(string("event_type"))
                    .col(json_binary("payload"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("events", &["topic", "seq"]))
            .await?;
        manager
            .create_index(index("events", &["app_id", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("topic_sequences")
                    .col(string("topic").primary_key())
                    .col(big_integer("last_seq"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "topic_sequences",
            "events",
            "messages",
            "thread_reads",
            "thread_participants",
            "threads",
            "team_invitations",
            "team_members",
            "teams",
            "refresh_tokens",
            "sessions",
            "password_credentials",
            "api_keys",
            "app_members",
            "users",
            "apps",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
