//! The tax authority's acknowledgement of a reported payment (Billit's `CashCollected: Recevable`) is marked on
//! its event by the classification, instead of being recognised later by searching the event's text. Events
//! stored before are marked once here, by the rule that recognised them until now (a 212 whose description
//! says both `CashCollected` and `Recevable`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceEvents {
    Table,
    Code,
    Kind,
    Description,
    AcknowledgesPayment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InvoiceEvents::Table)
                    .add_column(boolean(InvoiceEvents::AcknowledgesPayment).default(false))
                    .to_owned(),
            )
            .await?;
        let lowered = || Func::lower(Expr::col(InvoiceEvents::Description));
        manager
            .exec_stmt(
                Query::update()
                    .table(InvoiceEvents::Table)
                    .value(InvoiceEvents::AcknowledgesPayment, true)
                    .and_where(Expr::col(InvoiceEvents::Code).eq(212))
                    .and_where(Expr::col(InvoiceEvents::Kind).eq("status"))
                    .and_where(Expr::expr(lowered()).like("%cashcollected%"))
                    .and_where(Expr::expr(lowered()).like("%recevable%"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InvoiceEvents::Table)
                    .drop_column(InvoiceEvents::AcknowledgesPayment)
                    .to_owned(),
            )
            .await
    }
}
