//! Invoices and what happens to them: customers, numbering, invoices with their lines and status summary, the
//! status event log, raw webhook deliveries, the Billit poll cursor, and each member's notification choice.
//!
//! Money is stored as integer cents (`BIGINT`), exact and sortable on both backends; line quantities and prices
//! (five decimals) live in the lines' JSON as decimal strings.

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
enum Memberships {
    Table,
    NotifyNeedsAction,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    TenantId,
    LegalName,
    Siren,
    Siret,
    VatNumber,
    ElectronicAddress,
    ContactEmails,
    AddressStreet,
    AddressAdditional,
    AddressPostcode,
    AddressCity,
    AddressCountry,
    Language,
    PeppolCheckedAt,
    PeppolSummary,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceSettings {
    Table,
    TenantId,
    InvoicePrefix,
    CreditNotePrefix,
    Digits,
    YearlyReset,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceSequences {
    Table,
    TenantId,
    Series,
    NextValue,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    TenantId,
    CustomerId,
    BuyerName,
    DocumentType,
    Number,
    IssueYear,
    Corrects,
    IssueDate,
    DueDate,
    DeliveryDate,
    Currency,
    Buyer,
    Lines,
    PurchaseOrder,
    Contract,
    BuyerReference,
    Notes,
    TotalExclCents,
    TotalVatCents,
    TotalInclCents,
    SubmissionState,
    SubmissionError,
    SubmissionAttempts,
    IdempotencyKey,
    BillitOrderId,
    SubmittedAt,
    SentAt,
    HeadlineCode,
    IsFinal,
    NeedsAction,
    ActionReasons,
    OpenRequestCode,
    OpenRequestSince,
    Delivery,
    TaxReporting,
    Payment,
    AmountPaidCents,
    Unclassified,
    EventsCount,
    LastEventAt,
    BillitFacts,
    LastPolledAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceEvents {
    Table,
    Id,
    TenantId,
    InvoiceId,
    DedupKey,
    Code,
    Kind,
    Source,
    At,
    Description,
    Reasons,
    RequestedAction,
    Comment,
    FileId,
    Amount,
    Details,
    Via,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    ReceivedAt,
    Body,
    State,
    Error,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum BillitSync {
    Table,
    TenantId,
    LastSweepAt,
    LastFullCheckAt,
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
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(boolean(Memberships::NotifyNeedsAction).default(true))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(pk_uuid(Customers::Id))
                    .col(uuid(Customers::TenantId))
                    .col(string(Customers::LegalName))
                    .col(string_len(Customers::Siren, 9))
                    .col(string_len_null(Customers::Siret, 14))
                    .col(string_len_null(Customers::VatNumber, 16))
                    // `scheme:value`, e.g. `0225:732829320`.
                    .col(string(Customers::ElectronicAddress))
                    // JSON array of addresses.
                    .col(text(Customers::ContactEmails))
                    .col(string_null(Customers::AddressStreet))
                    .col(string_null(Customers::AddressAdditional))
                    .col(string_len_null(Customers::AddressPostcode, 16))
                    .col(string_null(Customers::AddressCity))
                    .col(string_len(Customers::AddressCountry, 2))
                    .col(string_len(Customers::Language, 2))
                    .col(timestamp_with_time_zone_null(Customers::PeppolCheckedAt))
                    // JSON: what the last network check found.
                    .col(text_null(Customers::PeppolSummary))
                    .col(timestamp_with_time_zone(Customers::CreatedAt))
                    .col(timestamp_with_time_zone(Customers::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Customers::Table, Customers::TenantId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customers_tenant_name")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::LegalName)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_customers_tenant_siren")
                    .table(Customers::Table)
                    .col(Customers::TenantId)
                    .col(Customers::Siren)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InvoiceSettings::Table)
                    .col(uuid(InvoiceSettings::TenantId).primary_key())
                    .col(string_len(InvoiceSettings::InvoicePrefix, 20))
                    .col(string_len(InvoiceSettings::CreditNotePrefix, 20))
                    .col(integer(InvoiceSettings::Digits))
                    .col(boolean(InvoiceSettings::YearlyReset))
                    .col(timestamp_with_time_zone(InvoiceSettings::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        InvoiceSettings::Table,
                        InvoiceSettings::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InvoiceSequences::Table)
                    .col(uuid(InvoiceSequences::TenantId))
                    // `invoice:2026`, `credit_note:2026`, or without the year when numbering never resets.
                    .col(string_len(InvoiceSequences::Series, 32))
                    .col(big_integer(InvoiceSequences::NextValue))
                    .primary_key(
                        Index::create()
                            .col(InvoiceSequences::TenantId)
                            .col(InvoiceSequences::Series),
                    )
                    .foreign_key(&mut tenant_fk(
                        InvoiceSequences::Table,
                        InvoiceSequences::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(pk_uuid(Invoices::Id))
                    .col(uuid(Invoices::TenantId))
                    .col(uuid_null(Invoices::CustomerId))
                    // The buyer's legal name, for search and display.
                    .col(string(Invoices::BuyerName))
                    .col(string_len(Invoices::DocumentType, 16))
                    .col(string_len_null(Invoices::Number, 35))
                    .col(integer_null(Invoices::IssueYear))
                    .col(string_len_null(Invoices::Corrects, 35))
                    .col(date_null(Invoices::IssueDate))
                    .col(date_null(Invoices::DueDate))
                    .col(date_null(Invoices::DeliveryDate))
                    .col(string_len(Invoices::Currency, 3))
                    // JSON: the buyer as on the invoice (a snapshot of the customer).
                    .col(text(Invoices::Buyer))
                    // JSON: the lines as typed (decimal strings).
                    .col(text(Invoices::Lines))
                    .col(string_null(Invoices::PurchaseOrder))
                    .col(string_null(Invoices::Contract))
                    .col(string_null(Invoices::BuyerReference))
                    .col(text(Invoices::Notes))
                    .col(big_integer(Invoices::TotalExclCents))
                    .col(big_integer(Invoices::TotalVatCents))
                    .col(big_integer(Invoices::TotalInclCents))
                    // draft, queued, sending, sent, failed.
                    .col(string_len(Invoices::SubmissionState, 16))
                    .col(text_null(Invoices::SubmissionError))
                    .col(integer(Invoices::SubmissionAttempts).default(0))
                    .col(string_len_uniq(Invoices::IdempotencyKey, 64))
                    .col(big_integer_null(Invoices::BillitOrderId))
                    .col(timestamp_with_time_zone_null(Invoices::SubmittedAt))
                    .col(timestamp_with_time_zone_null(Invoices::SentAt))
                    // The fold's summary, for lists and filters.
                    .col(integer_null(Invoices::HeadlineCode))
                    .col(boolean(Invoices::IsFinal).default(false))
                    .col(boolean(Invoices::NeedsAction).default(false))
                    .col(text(Invoices::ActionReasons))
                    .col(integer_null(Invoices::OpenRequestCode))
                    .col(timestamp_with_time_zone_null(Invoices::OpenRequestSince))
                    .col(string_len(Invoices::Delivery, 16))
                    .col(string_len(Invoices::TaxReporting, 16))
                    .col(string_len(Invoices::Payment, 16))
                    .col(big_integer(Invoices::AmountPaidCents).default(0))
                    .col(integer(Invoices::Unclassified).default(0))
                    .col(integer(Invoices::EventsCount).default(0))
                    .col(timestamp_with_time_zone_null(Invoices::LastEventAt))
                    // JSON: what Billit's order says besides messages (paid, to pay, delivery, tax reporting).
                    .col(text_null(Invoices::BillitFacts))
                    .col(timestamp_with_time_zone_null(Invoices::LastPolledAt))
                    .col(uuid_null(Invoices::CreatedBy))
                    .col(timestamp_with_time_zone(Invoices::CreatedAt))
                    .col(timestamp_with_time_zone(Invoices::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Invoices::Table, Invoices::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invoices::Table, Invoices::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Invoices::Table, Invoices::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // G1.45: a number once per year and seller (a tenant is one SIREN). NULL numbers do not collide.
        manager
            .create_index(
                Index::create()
                    .name("uq_invoices_tenant_year_number")
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::IssueYear)
                    .col(Invoices::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_invoices_tenant_id",
                vec![Invoices::TenantId, Invoices::Id],
            ),
            (
                "idx_invoices_tenant_headline",
                vec![Invoices::TenantId, Invoices::HeadlineCode, Invoices::Id],
            ),
            (
                "idx_invoices_tenant_action",
                vec![Invoices::TenantId, Invoices::NeedsAction, Invoices::Id],
            ),
            (
                "idx_invoices_tenant_customer",
                vec![Invoices::TenantId, Invoices::CustomerId, Invoices::Id],
            ),
            (
                "idx_invoices_tenant_order",
                vec![Invoices::TenantId, Invoices::BillitOrderId],
            ),
            // Covers the counts per status that every list and dashboard shows.
            (
                "idx_invoices_tenant_counts",
                vec![
                    Invoices::TenantId,
                    Invoices::HeadlineCode,
                    Invoices::SubmissionState,
                    Invoices::NeedsAction,
                ],
            ),
            (
                "idx_invoices_tenant_total",
                vec![Invoices::TenantId, Invoices::TotalInclCents, Invoices::Id],
            ),
            (
                "idx_invoices_tenant_state",
                vec![
                    Invoices::TenantId,
                    Invoices::SubmissionState,
                    Invoices::IsFinal,
                ],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Invoices::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(InvoiceEvents::Table)
                    .col(pk_uuid(InvoiceEvents::Id))
                    .col(uuid(InvoiceEvents::TenantId))
                    .col(uuid(InvoiceEvents::InvoiceId))
                    .col(string_len(InvoiceEvents::DedupKey, 400))
                    .col(integer_null(InvoiceEvents::Code))
                    .col(string_len(InvoiceEvents::Kind, 32))
                    .col(string_len(InvoiceEvents::Source, 32))
                    .col(timestamp_with_time_zone(InvoiceEvents::At))
                    .col(text(InvoiceEvents::Description))
                    // JSON array of reason codes.
                    .col(text(InvoiceEvents::Reasons))
                    .col(string_len_null(InvoiceEvents::RequestedAction, 16))
                    .col(text_null(InvoiceEvents::Comment))
                    .col(string_null(InvoiceEvents::FileId))
                    // Exact decimal as text (a 212's amount).
                    .col(string_len_null(InvoiceEvents::Amount, 40))
                    // JSON: what a status file adds (rules, business terms, values).
                    .col(text_null(InvoiceEvents::Details))
                    // webhook, poll, file.
                    .col(string_len(InvoiceEvents::Via, 16))
                    .col(timestamp_with_time_zone(InvoiceEvents::ReceivedAt))
                    .foreign_key(&mut tenant_fk(
                        InvoiceEvents::Table,
                        InvoiceEvents::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceEvents::Table, InvoiceEvents::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_invoice_events_dedup")
                    .table(InvoiceEvents::Table)
                    .col(InvoiceEvents::TenantId)
                    .col(InvoiceEvents::InvoiceId)
                    .col(InvoiceEvents::DedupKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_events_tenant_received")
                    .table(InvoiceEvents::Table)
                    .col(InvoiceEvents::TenantId)
                    .col(InvoiceEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(pk_uuid(WebhookDeliveries::Id))
                    .col(uuid(WebhookDeliveries::TenantId))
                    .col(timestamp_with_time_zone(WebhookDeliveries::ReceivedAt))
                    .col(text(WebhookDeliveries::Body))
                    // received, processed, failed.
                    .col(string_len(WebhookDeliveries::State, 16))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::ProcessedAt,
                    ))
                    .foreign_key(&mut tenant_fk(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_tenant")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::TenantId)
                    .col(WebhookDeliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(BillitSync::Table)
                    .col(uuid(BillitSync::TenantId).primary_key())
                    .col(timestamp_with_time_zone_null(BillitSync::LastSweepAt))
                    .col(timestamp_with_time_zone_null(BillitSync::LastFullCheckAt))
                    .foreign_key(&mut tenant_fk(BillitSync::Table, BillitSync::TenantId))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BillitSync::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            InvoiceEvents::Table.into_iden(),
            Invoices::Table.into_iden(),
            InvoiceSequences::Table.into_iden(),
            InvoiceSettings::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::NotifyNeedsAction)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
