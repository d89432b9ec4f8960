//! Outgoing webhooks to the companies' own systems: the endpoints a company admin registers (URL, chosen events,
//! the signing secret encrypted at rest, active or paused, since when it fails), one message per event and endpoint
//! (its JSON body, its place in the endpoint's order, pending / delivered / given up) and every attempt at
//! delivering one (status code, time, an excerpt of the answer) for the delivery log.
//!
//! Also: the company's status events by time (`invoice_events (tenant_id, at, id)`), which the CSV export of a
//! period's timeline reads in keyset pages, and its customers by electronic address (`customers (tenant_id,
//! electronic_address)`), which a CSV import looks up to leave out the customers it knows.
//!
//! Messages are read per endpoint and invoice in `seq` order (an invoice's next event waits for the previous one),
//! and listed per endpoint newest first; both indexes lead with `tenant_id`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InvoiceEvents {
    Table,
    TenantId,
    At,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    TenantId,
    ElectronicAddress,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    Url,
    Events,
    Secret,
    State,
    NextSeq,
    FailingSince,
    PausedAt,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum WebhookMessages {
    Table,
    Id,
    TenantId,
    EndpointId,
    InvoiceId,
    Seq,
    EventType,
    Body,
    State,
    Attempts,
    LeaseUntilMs,
    LastStatus,
    LastAttemptAt,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    TenantId,
    EndpointId,
    MessageId,
    At,
    StatusCode,
    Excerpt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(uuid(WebhookEndpoints::Id).primary_key())
                    .col(uuid(WebhookEndpoints::TenantId))
                    .col(string_len(WebhookEndpoints::Url, 2048))
                    .col(string_len(WebhookEndpoints::Events, 400))
                    .col(text(WebhookEndpoints::Secret))
                    .col(string_len(WebhookEndpoints::State, 16))
                    .col(big_integer(WebhookEndpoints::NextSeq).default(0))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookEndpoints::PausedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(uuid_null(WebhookEndpoints::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEndpoints::Table, WebhookEndpoints::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_endpoints_tenant")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::TenantId)
                    .col(WebhookEndpoints::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookMessages::Table)
                    .col(uuid(WebhookMessages::Id).primary_key())
                    .col(uuid(WebhookMessages::TenantId))
                    .col(uuid(WebhookMessages::EndpointId))
                    .col(uuid_null(WebhookMessages::InvoiceId))
                    .col(big_integer(WebhookMessages::Seq))
                    .col(string_len(WebhookMessages::EventType, 64))
                    .col(text(WebhookMessages::Body))
                    .col(string_len(WebhookMessages::State, 16))
                    .col(integer(WebhookMessages::Attempts).default(0))
                    .col(big_integer(WebhookMessages::LeaseUntilMs).default(0))
                    .col(integer_null(WebhookMessages::LastStatus))
                    .col(timestamp_with_time_zone_null(
                        WebhookMessages::LastAttemptAt,
                    ))
                    .col(timestamp_with_time_zone(WebhookMessages::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookMessages::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookMessages::Table, WebhookMessages::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The head of an endpoint's queue for one invoice: its earliest pending message.
        manager
            .create_index(
                Index::create()
                    .name("webhook_messages_order")
                    .table(WebhookMessages::Table)
                    .col(WebhookMessages::TenantId)
                    .col(WebhookMessages::EndpointId)
                    .col(WebhookMessages::InvoiceId)
                    .col(WebhookMessages::State)
                    .col(WebhookMessages::Seq)
                    .to_owned(),
            )
            .await?;
        // The endpoint's log, newest first.
        manager
            .create_index(
                Index::create()
                    .name("webhook_messages_log")
                    .table(WebhookMessages::Table)
                    .col(WebhookMessages::TenantId)
                    .col(WebhookMessages::EndpointId)
                    .col(WebhookMessages::Seq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(uuid(WebhookAttempts::Id).primary_key())
                    .col(uuid(WebhookAttempts::TenantId))
                    .col(uuid(WebhookAttempts::EndpointId))
                    .col(uuid(WebhookAttempts::MessageId))
                    .col(timestamp_with_time_zone(WebhookAttempts::At))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(string_len(WebhookAttempts::Excerpt, 600))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::MessageId)
                            .to(WebhookMessages::Table, WebhookMessages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_attempts_log")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::TenantId)
                    .col(WebhookAttempts::EndpointId)
                    .col(WebhookAttempts::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_events_tenant_at")
                    .table(InvoiceEvents::Table)
                    .col(InvoiceEvents::TenantId)
                    .col(InvoiceEvents::At)
                    .col(InvoiceEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customers_tenant_address")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::ElectronicAddress)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_customers_tenant_address")
                    .table(Customers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_invoice_events_tenant_at")
                    .table(InvoiceEvents::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookMessages::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
