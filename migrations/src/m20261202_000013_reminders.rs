//! Reminders (relances) of unpaid invoices: each company's settings (on/off, automatic sending, the schedule)
//! and its own FR/EN wording, the customers excluded from reminders, and one row per reminder of an invoice's step
//! (due, sent or skipped), unique per invoice and step so that a step is never reminded twice.
//!
//! The periodic look-up of invoices that may need a reminder reads a partial index of the invoices that can still
//! be reminded (unpaid, not final, invoices rather than credit notes) by due date, so it is bounded by the overdue
//! unpaid invoices of a company and not by all of them.

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
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    ExcludeFromReminders,
}

#[derive(DeriveIden)]
enum ReminderSettings {
    Table,
    TenantId,
    Enabled,
    Automatic,
    Schedule,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ReminderTemplates {
    Table,
    Id,
    TenantId,
    Language,
    Subject,
    Body,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    Id,
    TenantId,
    InvoiceId,
    StepDays,
    DueOn,
    State,
    CreatedAt,
    DecidedAt,
    DecidedBy,
    OutboxId,
}

const UNPAID_INDEX: &str = "idx_invoices_tenant_unpaid_due";

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

fn user_fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::SetNull)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .add_column(boolean(Customers::ExcludeFromReminders).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReminderSettings::Table)
                    .col(pk_uuid(ReminderSettings::TenantId))
                    .col(boolean(ReminderSettings::Enabled).default(false))
                    .col(boolean(ReminderSettings::Automatic).default(false))
                    // Days after the due date, as the domain writes them: `7, 15, 30`.
                    .col(string_len(ReminderSettings::Schedule, 100))
                    .col(uuid_null(ReminderSettings::UpdatedBy))
                    .col(timestamp_with_time_zone(ReminderSettings::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        ReminderSettings::Table,
                        ReminderSettings::TenantId,
                    ))
                    .foreign_key(&mut user_fk(
                        ReminderSettings::Table,
                        ReminderSettings::UpdatedBy,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReminderTemplates::Table)
                    .col(pk_uuid(ReminderTemplates::Id))
                    .col(uuid(ReminderTemplates::TenantId))
                    .col(string_len(ReminderTemplates::Language, 2))
                    .col(string(ReminderTemplates::Subject))
                    .col(text(ReminderTemplates::Body))
                    .col(uuid_null(ReminderTemplates::UpdatedBy))
                    .col(timestamp_with_time_zone(ReminderTemplates::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        ReminderTemplates::Table,
                        ReminderTemplates::TenantId,
                    ))
                    .foreign_key(&mut user_fk(
                        ReminderTemplates::Table,
                        ReminderTemplates::UpdatedBy,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_reminder_templates_slot")
                    .table(ReminderTemplates::Table)
                    .col(ReminderTemplates::TenantId)
                    .col(ReminderTemplates::Language)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reminders::Table)
                    .col(pk_uuid(Reminders::Id))
                    .col(uuid(Reminders::TenantId))
                    .col(uuid(Reminders::InvoiceId))
                    .col(integer(Reminders::StepDays))
                    // The day the step fell on (due date + step).
                    .col(date(Reminders::DueOn))
                    // due, sent, skipped.
                    .col(string_len(Reminders::State, 16))
                    .col(timestamp_with_time_zone(Reminders::CreatedAt))
                    .col(timestamp_with_time_zone_null(Reminders::DecidedAt))
                    // NULL when the portal decided (automatic sending, a step superseded by a later one).
                    .col(uuid_null(Reminders::DecidedBy))
                    .col(uuid_null(Reminders::OutboxId))
                    .foreign_key(&mut tenant_fk(Reminders::Table, Reminders::TenantId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reminders::Table, Reminders::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(&mut user_fk(Reminders::Table, Reminders::DecidedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Reminders::Table, Reminders::OutboxId)
                            .to(Outbox::Table, Outbox::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // A step of an invoice is reminded at most once, whatever crashes or runs twice.
        manager
            .create_index(
                Index::create()
                    .name("uq_reminders_invoice_step")
                    .table(Reminders::Table)
                    .col(Reminders::TenantId)
                    .col(Reminders::InvoiceId)
                    .col(Reminders::StepDays)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The "reminders due" page: one company's rows in a state, by day.
        manager
            .create_index(
                Index::create()
                    .name("idx_reminders_tenant_state_due")
                    .table(Reminders::Table)
                    .col(Reminders::TenantId)
                    .col(Reminders::State)
                    .col(Reminders::DueOn)
                    .col(Reminders::Id)
                    .to_owned(),
            )
            .await?;
        // The same partial index on both backends (SQLite understands `false` since 3.23). The look-up repeats
        // these terms literally so that both planners use it.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {UNPAID_INDEX} ON invoices (tenant_id, due_date, id) \
                 WHERE document_type = 'invoice' AND is_final = false AND payment <> 'paid' \
                 AND due_date IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(UNPAID_INDEX)
                    .table(Invoices::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            Reminders::Table.into_iden(),
            ReminderTemplates::Table.into_iden(),
            ReminderSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .drop_column(Customers::ExcludeFromReminders)
                    .to_owned(),
            )
            .await
    }
}
