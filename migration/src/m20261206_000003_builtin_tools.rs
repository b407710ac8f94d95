//! The built-in tools an agent has (`read_thread,post_message,run_routine`,
//! any of them, comma-separated; empty: none).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("agents")
                    .add_column(string("builtin_tools").default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("agents")
                    .drop_column("builtin_tools")
                    .to_owned(),
            )
            .await
    }
}
