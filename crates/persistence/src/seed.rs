//! Bulk loading for `portal dev seed` (benchmarks and demonstrations): customers and invoices with their status
//! histories, written in large multi-row inserts inside one transaction per batch. The invoices' summary columns
//! come from the same fold as live ingestion, so a seeded invoice looks exactly like one that lived.

use crate::entities::{customers, invoice_events, invoices};
use crate::invoices::{
    InvoiceContent, SubmissionState, document_type_str, enum_str, event_row, summary_from,
};
use crate::scope::TenantScope;
use crate::text::blank_to_none;
use chrono::{DateTime, Datelike, Utc};
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::BuyerDraft;
use portal_domain::lifecycle::{InvoiceFacts, Lifecycle, StatusEvent};
use rust_decimal::Decimal;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

/// A customer to create.
#[derive(Debug, Clone)]
pub struct SeedCustomer {
    pub id: CustomerId,
    pub buyer: BuyerDraft,
}

/// An invoice to create, already sent (when `order_id` is set) with its events.
#[derive(Debug, Clone)]
pub struct SeedInvoice {
    pub id: InvoiceId,
    pub content: InvoiceContent,
    pub state: SubmissionState,
    pub order_id: Option<i64>,
    pub events: Vec<StatusEvent>,
    pub created_at: DateTime<Utc>,
}

/// Rows per multi-row insert: under SQLite's bound-parameter limit for the widest table.
const INVOICE_CHUNK: usize = 150;
const EVENT_CHUNK: usize = 1_000;
const CUSTOMER_CHUNK: usize = 500;

pub async fn insert_customers(
    db: &DatabaseConnection,
    scope: &TenantScope,
    list: &[SeedCustomer],
) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    for chunk in list.chunks(CUSTOMER_CHUNK) {
        let rows =
            chunk.iter().map(|customer| {
                let buyer = &customer.buyer;
                customers::ActiveModel {
                    id: Set(customer.id.as_uuid()),
                    tenant_id: Set(scope.tenant_id().as_uuid()),
                    legal_name: Set(buyer.legal_name.clone()),
                    siren: Set(buyer.siren.clone()),
                    siret: Set(blank_to_none(&buyer.siret)),
                    vat_number: Set(blank_to_none(&buyer.vat_number)),
                    electronic_address: Set(buyer.electronic_address.clone()),
                    contact_emails: Set(serde_json::to_string(&buyer.contact_emails)
                        .unwrap_or_else(|_| "[]".into())),
                    address_street: Set(blank_to_none(&buyer.address.street)),
                    address_additional: Set(blank_to_none(&buyer.address.additional)),
                    address_postcode: Set(blank_to_none(&buyer.address.postcode)),
                    address_city: Set(blank_to_none(&buyer.address.city)),
                    address_country: Set(blank_to_none(&buyer.address.country_code)
                        .unwrap_or_else(|| "FR".to_owned())),
                    language: Set(buyer.language.code().to_owned()),
                    peppol_checked_at: Set(None),
                    peppol_summary: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
            });
        customers::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    crate::customers::search::index(
        &txn,
        list.iter()
            .map(|customer| {
                let buyer = &customer.buyer;
                crate::customers::search::entry(
                    scope.tenant_id().as_uuid(),
                    customer.id.as_uuid(),
                    &buyer.legal_name,
                    &[&buyer.siren, &buyer.siret, &buyer.vat_number],
                )
            })
            .collect(),
    )
    .await?;
    txn.commit().await
}

/// Gathers the planner's statistics after a bulk load (`ANALYZE`; on PostgreSQL `VACUUM (ANALYZE)`). Without them a
/// server just seeded plans as if the tables were empty: PostgreSQL's autovacuum analyzes only later (never, where
/// it is turned off), and meanwhile the list of one status of a 50,000-invoice company read all 16,000 of that
/// status to sort them (20 ms against 0.1 ms). The vacuum also marks the new rows visible to every transaction: the
/// visibility map lets index-only scans skip the table, and the pages served first are not each rewritten by the
/// read that sets their rows' hint bits.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::ConnectionTrait;
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "VACUUM (ANALYZE)",
        _ => "ANALYZE",
    };
    db.execute_unprepared(sql).await.map(|_| ())
}

/// Inserts invoices and their events; returns how many events were written.
pub async fn insert_invoices(
    db: &DatabaseConnection,
    scope: &TenantScope,
    list: &[SeedInvoice],
) -> Result<usize, DbErr> {
    let tenant = scope.tenant_id().as_uuid();
    let mut written = 0;
    let txn = crate::db::begin_write(db).await?;
    for chunk in list.chunks(INVOICE_CHUNK) {
        let rows: Vec<invoices::ActiveModel> =
            chunk.iter().map(|seed| invoice_row(tenant, seed)).collect();
        invoices::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    crate::invoices::search::index(
        &txn,
        list.iter()
            .map(|seed| crate::invoices::search::entry(tenant, seed.id.as_uuid(), &seed.content))
            .collect(),
    )
    .await?;
    let events: Vec<invoice_events::ActiveModel> = list
        .iter()
        .flat_map(|seed| {
            seed.events
                .iter()
                .map(move |event| event_row(tenant, seed.id, event, "seed", event.at))
        })
        .collect();
    for chunk in events.chunks(EVENT_CHUNK) {
        written += chunk.len();
        invoice_events::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(written)
}

fn invoice_row(tenant: Uuid, seed: &SeedInvoice) -> invoices::ActiveModel {
    let draft = &seed.content.draft;
    let totals = seed.content.totals;
    let facts = InvoiceFacts::new(Decimal::new(totals.incl, 2));
    let lifecycle = Lifecycle::fold(&seed.events, &facts);
    let summary = summary_from(&lifecycle, seed.state == SubmissionState::Failed);
    invoices::ActiveModel {
        id: Set(seed.id.as_uuid()),
        tenant_id: Set(tenant),
        customer_id: Set(seed.content.customer_id.map(|id| id.as_uuid())),
        buyer_name: Set(draft.buyer.legal_name.clone()),
        document_type: Set(document_type_str(draft.document_type).to_owned()),
        number: Set(blank_to_none(&draft.number)),
        issue_year: Set(draft.issue_date.map(|date| date.year())),
        corrects: Set(blank_to_none(&draft.corrects)),
        issue_date: Set(draft.issue_date),
        due_date: Set(draft.due_date),
        delivery_date: Set(draft.delivery_date),
        paid_at_issue: Set(draft.paid_at_issue),
        currency: Set("EUR".to_owned()),
        buyer: Set(serde_json::to_string(&draft.buyer).unwrap_or_else(|_| "{}".into())),
        lines: Set(serde_json::to_string(&draft.lines).unwrap_or_else(|_| "[]".into())),
        purchase_order: Set(blank_to_none(&draft.purchase_order)),
        contract: Set(blank_to_none(&draft.contract)),
        buyer_reference: Set(blank_to_none(&draft.buyer_reference)),
        notes: Set(serde_json::to_string(&draft.notes).unwrap_or_else(|_| "[]".into())),
        total_excl_cents: Set(totals.excl),
        total_vat_cents: Set(totals.vat),
        total_incl_cents: Set(totals.incl),
        submission_state: Set(seed.state.as_str().to_owned()),
        submission_error: Set(None),
        submission_attempts: Set(i32::from(seed.order_id.is_some())),
        idempotency_key: Set(format!("portal-{}", seed.id.as_uuid().simple())),
        billit_order_id: Set(seed.order_id),
        submitted_at: Set(seed.order_id.map(|_| seed.created_at)),
        sent_at: Set(seed.order_id.map(|_| seed.created_at)),
        headline_code: Set(summary.headline.map(|code| i32::from(code.0))),
        is_final: Set(summary.is_final),
        needs_action: Set(summary.needs_action),
        action_reasons: Set(
            serde_json::to_string(&summary.action_reasons).unwrap_or_else(|_| "[]".into())
        ),
        open_request_code: Set(summary.open_request.map(|(code, _)| i32::from(code.0))),
        open_request_since: Set(summary.open_request.map(|(_, since)| since)),
        delivery: Set(enum_str(summary.delivery, "pending")),
        tax_reporting: Set(enum_str(summary.tax_reporting, "pending")),
        payment: Set(enum_str(summary.payment, "unpaid")),
        amount_paid_cents: Set(summary.amount_paid_cents),
        unclassified: Set(summary.unclassified),
        events_count: Set(summary.events_count),
        last_event_at: Set(summary.last_event_at),
        headline_since: Set(summary.headline_since),
        billit_facts: Set(None),
        last_polled_at: Set(None),
        created_by: Set(None),
        created_at: Set(seed.created_at),
        updated_at: Set(seed.created_at),
        related_invoice_id: Set(None),
        relation: Set(None),
    }
}
