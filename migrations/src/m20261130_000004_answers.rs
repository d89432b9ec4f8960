//! Answering customers by email: what the outbox needs for it (copies, the sender's display name, a stable
//! Message-ID, attachments), the emails written about an invoice and the request each one answers, and each
//! tenant's own answer templates.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    CcAddresses,
    FromName,
    MessageId,
}

#[derive(DeriveIden)]
enum OutboxAttachments {
    Table,
    Id,
    OutboxId,
    TenantId,
    Position,
    FileName,
    ContentType,
    SizeBytes,
    Content,
}

#[derive(DeriveIden)]
enum InvoiceEmails {
    Table,
    Id,
    TenantId,
    InvoiceId,
    OutboxId,
    RequestCode,
    RequestDedupKey,
    SentBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AnswerTemplates {
    Table,
    Id,
    TenantId,
    StatusCode,
    Language,
    Subject,
    Body,
    UpdatedBy,
    UpdatedAt,
}

fn tenant_fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one column at a time.
        for column in [
            // JSON array of addresses, like `to_addresses`; NULL on emails written before copies existed.
            text_null(Outbox::CcAddresses),
            // The display name put before the sender's address (a tenant's name).
            string_null(Outbox::FromName),
            // Chosen when the email is queued, so every retry sends the same Message-ID.
            string_null(Outbox::MessageId),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OutboxAttachments::Table)
                    .col(pk_uuid(OutboxAttachments::Id))
                    .col(uuid(OutboxAttachments::OutboxId))
                    // NULL like the outbox row's own tenant (firm emails); set for every tenant's email.
                    .col(uuid_null(OutboxAttachments::TenantId))
                    .col(integer(OutboxAttachments::Position))
                    .col(string(OutboxAttachments::FileName))
                    .col(string(OutboxAttachments::ContentType))
                    .col(big_integer(OutboxAttachments::SizeBytes))
                    // BLOB on SQLite, bytea on PostgreSQL.
                    .col(blob(OutboxAttachments::Content))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OutboxAttachments::Table, OutboxAttachments::OutboxId)
                            .to(Outbox::Table, Outbox::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut tenant_fk(
                        OutboxAttachments::Table,
                        OutboxAttachments::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_attachments_tenant")
                    .table(OutboxAttachments::Table)
                    .col(OutboxAttachments::TenantId)
                    .col(OutboxAttachments::OutboxId)
                    .col(OutboxAttachments::Position)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InvoiceEmails::Table)
                    .col(pk_uuid(InvoiceEmails::Id))
                    .col(uuid(InvoiceEmails::TenantId))
                    .col(uuid(InvoiceEmails::InvoiceId))
                    .col(uuid(InvoiceEmails::OutboxId))
                    // 207 or 208: the open request the email answers, and that event's dedup key.
                    .col(integer(InvoiceEmails::RequestCode))
                    .col(string(InvoiceEmails::RequestDedupKey))
                    .col(uuid_null(InvoiceEmails::SentBy))
                    .col(timestamp_with_time_zone(InvoiceEmails::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        InvoiceEmails::Table,
                        InvoiceEmails::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceEmails::Table, InvoiceEmails::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceEmails::Table, InvoiceEmails::OutboxId)
                            .to(Outbox::Table, Outbox::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceEmails::Table, InvoiceEmails::SentBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_emails_invoice")
                    .table(InvoiceEmails::Table)
                    .col(InvoiceEmails::TenantId)
                    .col(InvoiceEmails::InvoiceId)
                    .col(InvoiceEmails::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AnswerTemplates::Table)
                    .col(pk_uuid(AnswerTemplates::Id))
                    .col(uuid(AnswerTemplates::TenantId))
                    .col(integer(AnswerTemplates::StatusCode))
                    .col(string_len(AnswerTemplates::Language, 2))
                    .col(string(AnswerTemplates::Subject))
                    .col(text(AnswerTemplates::Body))
                    .col(uuid_null(AnswerTemplates::UpdatedBy))
                    .col(timestamp_with_time_zone(AnswerTemplates::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        AnswerTemplates::Table,
                        AnswerTemplates::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AnswerTemplates::Table, AnswerTemplates::UpdatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_answer_templates_slot")
                    .table(AnswerTemplates::Table)
                    .col(AnswerTemplates::TenantId)
                    .col(AnswerTemplates::StatusCode)
                    .col(AnswerTemplates::Language)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AnswerTemplates::Table.into_iden(),
            InvoiceEmails::Table.into_iden(),
            OutboxAttachments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Outbox::MessageId, Outbox::FromName, Outbox::CcAddresses] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
