//! The login throttle's stale rows are purged hourly (`LoginThrottle::purge_stale`): an index on the last failure's
//! time keeps that purge a range scan, however many addresses a distributed guesser used.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    LastFailureAt,
}

const INDEX: &str = "idx_login_throttle_last_failure_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(LoginThrottle::Table)
                    .col(LoginThrottle::LastFailureAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(LoginThrottle::Table)
                    .to_owned(),
            )
            .await
    }
}
