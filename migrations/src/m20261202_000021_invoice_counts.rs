//! Counts kept per company, so that the pages that show them read a few small rows instead of every invoice:
//!
//! - `invoice_counts`: how many of a company's invoices are in each `(headline status, submission state, needs
//!   action)` combination (the list's chips, the dashboard, the firm console's bars and failures). A missing
//!   headline is stored as 0 (a key column cannot be NULL).
//! - `invoice_sent_months`: how many of a company's invoices were sent in each month, in Paris time (`YYYY-MM`):
//!   the console's "sent this month" and "sent per month over the last 12 months".
//!
//! Both are kept exact by triggers on `invoices`, in the transaction of the change, whatever code path writes
//! (drafts, imports, the API, the seed's bulk inserts, the status fold, the submission's `mark_*`, deletes): a new
//! code path cannot forget them. Increments are upserts (`count = count + excluded.count`) and decrements plain
//! updates of a row the increment made, so no trigger reads a count to write it back, and deleting a company
//! (whose rows cascade) never re-creates one. On PostgreSQL the trigger function takes its two counter rows in a
//! fixed order, so that two single-invoice changes moving in opposite directions cannot deadlock.
//!
//! `portal dev recount` recomputes both from the invoices should they ever drift (a manual edit of the table).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InvoiceCounts {
    Table,
    TenantId,
    HeadlineCode,
    SubmissionState,
    NeedsAction,
    Count,
}

#[derive(DeriveIden)]
enum InvoiceSentMonths {
    Table,
    TenantId,
    Month,
    Count,
}

/// The Paris month (`YYYY-MM`) of the timestamp expression `at`, in the backend's SQL.
///
/// PostgreSQL converts with its time zone database. SQLite has none, so the expression applies the EU rule: Paris
/// is UTC+1 in winter and UTC+2 in summer, and summer time runs from the last Sunday of March to the last Sunday
/// of October, so the first day of April to October starts in summer time and that of November to March in winter
/// time. The two offsets give different months only in the hour before a month starts (22:00–23:00 UTC on a
/// month's last day); the month that starts then decides which offset applies. (`portal_persistence` computes the
/// same key in Rust for the console's reads.)
pub fn paris_month_sql(backend: DbBackend, at: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char({at} AT TIME ZONE 'Europe/Paris', 'YYYY-MM')"),
        _ => format!(
            "(CASE WHEN strftime('%m', {at}, '+2 hours') BETWEEN '04' AND '10' \
             THEN strftime('%Y-%m', {at}, '+2 hours') ELSE strftime('%Y-%m', {at}, '+1 hours') END)"
        ),
    }
}

const COUNT_KEY: &str = "tenant_id, headline_code, submission_state, needs_action";

/// SQLite's trigger statements: `+1` for the row `side` (`new`), `-1` for `old`.
fn sqlite_count_up(side: &str) -> String {
    format!(
        "INSERT INTO invoice_counts ({COUNT_KEY}, count) VALUES ({side}.tenant_id, \
         COALESCE({side}.headline_code, 0), {side}.submission_state, {side}.needs_action, 1) \
         ON CONFLICT ({COUNT_KEY}) DO UPDATE SET count = invoice_counts.count + excluded.count;"
    )
}

fn sqlite_count_down(side: &str) -> String {
    format!(
        "UPDATE invoice_counts SET count = count - 1 WHERE tenant_id = {side}.tenant_id \
         AND headline_code = COALESCE({side}.headline_code, 0) \
         AND submission_state = {side}.submission_state AND needs_action = {side}.needs_action;"
    )
}

fn sqlite_month_up(side: &str) -> String {
    format!(
        "INSERT INTO invoice_sent_months (tenant_id, month, count) \
         SELECT {side}.tenant_id, {}, 1 WHERE {side}.sent_at IS NOT NULL \
         ON CONFLICT (tenant_id, month) DO UPDATE SET count = invoice_sent_months.count + excluded.count;",
        paris_month_sql(DbBackend::Sqlite, &format!("{side}.sent_at"))
    )
}

fn sqlite_month_down(side: &str) -> String {
    format!(
        "UPDATE invoice_sent_months SET count = count - 1 WHERE {side}.sent_at IS NOT NULL \
         AND tenant_id = {side}.tenant_id AND month = {};",
        paris_month_sql(DbBackend::Sqlite, &format!("{side}.sent_at"))
    )
}

fn sqlite_statements() -> Vec<String> {
    let counted_change = "old.tenant_id IS NOT new.tenant_id OR old.headline_code IS NOT new.headline_code \
         OR old.submission_state IS NOT new.submission_state OR old.needs_action IS NOT new.needs_action";
    let sent_change = "old.tenant_id IS NOT new.tenant_id OR old.sent_at IS NOT new.sent_at";
    vec![
        format!(
            "CREATE TRIGGER invoice_counts_insert AFTER INSERT ON invoices BEGIN {} {} END",
            sqlite_count_up("new"),
            sqlite_month_up("new")
        ),
        format!(
            "CREATE TRIGGER invoice_counts_delete AFTER DELETE ON invoices BEGIN {} {} END",
            sqlite_count_down("old"),
            sqlite_month_down("old")
        ),
        format!(
            "CREATE TRIGGER invoice_counts_update AFTER UPDATE OF tenant_id, headline_code, submission_state, \
             needs_action ON invoices WHEN {counted_change} BEGIN {} {} END",
            sqlite_count_down("old"),
            sqlite_count_up("new")
        ),
        format!(
            "CREATE TRIGGER invoice_sent_months_update AFTER UPDATE OF tenant_id, sent_at ON invoices \
             WHEN {sent_change} BEGIN {} {} END",
            sqlite_month_down("old"),
            sqlite_month_up("new")
        ),
    ]
}

fn postgres_statements() -> Vec<String> {
    let month = |side: &str| paris_month_sql(DbBackend::Postgres, &format!("{side}.sent_at"));
    vec![
        // One counter row moved by `delta`: an upsert when it grows, an update when it shrinks (the row exists:
        // its invoice was counted in it).
        "CREATE FUNCTION invoice_counts_bump(p_tenant uuid, p_code integer, p_state varchar, p_action boolean, \
         p_delta bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN \
         IF p_delta > 0 THEN \
           INSERT INTO invoice_counts (tenant_id, headline_code, submission_state, needs_action, count) \
           VALUES (p_tenant, p_code, p_state, p_action, p_delta) \
           ON CONFLICT (tenant_id, headline_code, submission_state, needs_action) \
           DO UPDATE SET count = invoice_counts.count + excluded.count; \
         ELSE \
           UPDATE invoice_counts SET count = count + p_delta WHERE tenant_id = p_tenant \
           AND headline_code = p_code AND submission_state = p_state AND needs_action = p_action; \
         END IF; END $$"
            .to_owned(),
        "CREATE FUNCTION invoice_sent_months_bump(p_tenant uuid, p_month varchar, p_delta bigint) \
         RETURNS void LANGUAGE plpgsql AS $$ BEGIN \
         IF p_delta > 0 THEN \
           INSERT INTO invoice_sent_months (tenant_id, month, count) VALUES (p_tenant, p_month, p_delta) \
           ON CONFLICT (tenant_id, month) DO UPDATE SET count = invoice_sent_months.count + excluded.count; \
         ELSE \
           UPDATE invoice_sent_months SET count = count + p_delta WHERE tenant_id = p_tenant AND month = p_month; \
         END IF; END $$"
            .to_owned(),
        // The rows of a change, the smaller key first (a fixed lock order).
        "CREATE FUNCTION invoice_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF TG_OP = 'INSERT' THEN \
           PERFORM invoice_counts_bump(NEW.tenant_id, COALESCE(NEW.headline_code, 0), NEW.submission_state, \
             NEW.needs_action, 1); \
         ELSIF TG_OP = 'DELETE' THEN \
           PERFORM invoice_counts_bump(OLD.tenant_id, COALESCE(OLD.headline_code, 0), OLD.submission_state, \
             OLD.needs_action, -1); \
         ELSIF (OLD.tenant_id, COALESCE(OLD.headline_code, 0), OLD.submission_state, OLD.needs_action) \
             < (NEW.tenant_id, COALESCE(NEW.headline_code, 0), NEW.submission_state, NEW.needs_action) THEN \
           PERFORM invoice_counts_bump(OLD.tenant_id, COALESCE(OLD.headline_code, 0), OLD.submission_state, \
             OLD.needs_action, -1); \
           PERFORM invoice_counts_bump(NEW.tenant_id, COALESCE(NEW.headline_code, 0), NEW.submission_state, \
             NEW.needs_action, 1); \
         ELSE \
           PERFORM invoice_counts_bump(NEW.tenant_id, COALESCE(NEW.headline_code, 0), NEW.submission_state, \
             NEW.needs_action, 1); \
           PERFORM invoice_counts_bump(OLD.tenant_id, COALESCE(OLD.headline_code, 0), OLD.submission_state, \
             OLD.needs_action, -1); \
         END IF; RETURN NULL; END $$"
            .to_owned(),
        format!(
            "CREATE FUNCTION invoice_sent_months_track() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE old_month varchar; new_month varchar; BEGIN \
             IF TG_OP <> 'INSERT' AND OLD.sent_at IS NOT NULL THEN old_month := {}; END IF; \
             IF TG_OP <> 'DELETE' AND NEW.sent_at IS NOT NULL THEN new_month := {}; END IF; \
             IF old_month IS NOT NULL AND (new_month IS NULL OR old_month < new_month \
                 OR (old_month = new_month AND OLD.tenant_id < NEW.tenant_id)) THEN \
               PERFORM invoice_sent_months_bump(OLD.tenant_id, old_month, -1); \
               IF new_month IS NOT NULL THEN PERFORM invoice_sent_months_bump(NEW.tenant_id, new_month, 1); END IF; \
             ELSE \
               IF new_month IS NOT NULL THEN PERFORM invoice_sent_months_bump(NEW.tenant_id, new_month, 1); END IF; \
               IF old_month IS NOT NULL THEN PERFORM invoice_sent_months_bump(OLD.tenant_id, old_month, -1); END IF; \
             END IF; RETURN NULL; END $$",
            month("OLD"),
            month("NEW")
        ),
        "CREATE TRIGGER invoice_counts_insert_delete AFTER INSERT OR DELETE ON invoices \
         FOR EACH ROW EXECUTE FUNCTION invoice_counts_track()"
            .to_owned(),
        "CREATE TRIGGER invoice_counts_update AFTER UPDATE OF tenant_id, headline_code, submission_state, \
         needs_action ON invoices FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id \
         OR OLD.headline_code IS DISTINCT FROM NEW.headline_code \
         OR OLD.submission_state IS DISTINCT FROM NEW.submission_state \
         OR OLD.needs_action IS DISTINCT FROM NEW.needs_action) EXECUTE FUNCTION invoice_counts_track()"
            .to_owned(),
        "CREATE TRIGGER invoice_sent_months_insert_delete AFTER INSERT OR DELETE ON invoices \
         FOR EACH ROW EXECUTE FUNCTION invoice_sent_months_track()"
            .to_owned(),
        "CREATE TRIGGER invoice_sent_months_update AFTER UPDATE OF tenant_id, sent_at ON invoices \
         FOR EACH ROW WHEN (OLD.tenant_id IS DISTINCT FROM NEW.tenant_id \
         OR OLD.sent_at IS DISTINCT FROM NEW.sent_at) EXECUTE FUNCTION invoice_sent_months_track()"
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvoiceCounts::Table)
                    .col(uuid(InvoiceCounts::TenantId))
                    .col(integer(InvoiceCounts::HeadlineCode))
                    .col(string_len(InvoiceCounts::SubmissionState, 16))
                    .col(boolean(InvoiceCounts::NeedsAction))
                    .col(big_integer(InvoiceCounts::Count))
                    .primary_key(
                        Index::create()
                            .col(InvoiceCounts::TenantId)
                            .col(InvoiceCounts::HeadlineCode)
                            .col(InvoiceCounts::SubmissionState)
                            .col(InvoiceCounts::NeedsAction),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceCounts::Table, InvoiceCounts::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InvoiceSentMonths::Table)
                    .col(uuid(InvoiceSentMonths::TenantId))
                    .col(string_len(InvoiceSentMonths::Month, 7))
                    .col(big_integer(InvoiceSentMonths::Count))
                    .primary_key(
                        Index::create()
                            .col(InvoiceSentMonths::TenantId)
                            .col(InvoiceSentMonths::Month),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceSentMonths::Table, InvoiceSentMonths::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let backend = manager.get_database_backend();
        let connection = manager.get_connection();
        // The invoices already there, counted once; the triggers keep the counts from then on.
        connection
            .execute_unprepared(&format!(
                "INSERT INTO invoice_counts ({COUNT_KEY}, count) \
                 SELECT tenant_id, COALESCE(headline_code, 0), submission_state, needs_action, COUNT(*) \
                 FROM invoices GROUP BY tenant_id, COALESCE(headline_code, 0), submission_state, needs_action"
            ))
            .await?;
        let month = paris_month_sql(backend, "sent_at");
        connection
            .execute_unprepared(&format!(
                "INSERT INTO invoice_sent_months (tenant_id, month, count) \
                 SELECT tenant_id, {month}, COUNT(*) FROM invoices WHERE sent_at IS NOT NULL \
                 GROUP BY tenant_id, {month}"
            ))
            .await?;
        let statements = match backend {
            DbBackend::Postgres => postgres_statements(),
            _ => sqlite_statements(),
        };
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for trigger in [
                    "invoice_counts_insert_delete",
                    "invoice_counts_update",
                    "invoice_sent_months_insert_delete",
                    "invoice_sent_months_update",
                ] {
                    connection
                        .execute_unprepared(&format!("DROP TRIGGER {trigger} ON invoices"))
                        .await?;
                }
                connection
                    .execute_unprepared(
                        "DROP FUNCTION invoice_counts_track(); DROP FUNCTION invoice_sent_months_track(); \
                         DROP FUNCTION invoice_counts_bump(uuid, integer, varchar, boolean, bigint); \
                         DROP FUNCTION invoice_sent_months_bump(uuid, varchar, bigint)",
                    )
                    .await?;
            }
            _ => {
                for trigger in [
                    "invoice_counts_insert",
                    "invoice_counts_delete",
                    "invoice_counts_update",
                    "invoice_sent_months_update",
                ] {
                    connection
                        .execute_unprepared(&format!("DROP TRIGGER {trigger}"))
                        .await?;
                }
            }
        }
        manager
            .drop_table(Table::drop().table(InvoiceSentMonths::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(InvoiceCounts::Table).to_owned())
            .await
    }
}
