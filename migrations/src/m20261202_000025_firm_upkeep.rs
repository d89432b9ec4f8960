//! What the firm's console needs to keep its inbox honest and its tables small:
//!
//! - `billit_health.failing_since`: when the company's current run of failed Billit calls began (the first
//!   failure after the last success). The inbox's "connexion Billit en échec" row waits since then; the last
//!   failure's time alone would keep moving the row to the end of an oldest-first list.
//! - `idx_firm_visits_at`: the periodic purge deletes the visits older than a session can live, by time, without
//!   reading the whole table.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillitHealth {
    Table,
    FailingSince,
}

#[derive(DeriveIden)]
enum FirmVisits {
    Table,
    At,
}

const VISITS_INDEX: &str = "idx_firm_visits_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BillitHealth::Table)
                    .add_column(timestamp_with_time_zone_null(BillitHealth::FailingSince))
                    .to_owned(),
            )
            .await?;
        // A company failing today (its last failure after its last success) has been failing since at least its
        // last failure.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE billit_health SET failing_since = last_error_at \
                 WHERE last_error_at IS NOT NULL \
                 AND (last_success_at IS NULL OR last_error_at > last_success_at)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(VISITS_INDEX)
                    .table(FirmVisits::Table)
                    .col(FirmVisits::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(VISITS_INDEX)
                    .table(FirmVisits::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(BillitHealth::Table)
                    .drop_column(BillitHealth::FailingSince)
                    .to_owned(),
            )
            .await
    }
}
