//! The invoice list's search: the folded text kept per invoice in `invoice_search` (written with the invoice) and
//! the condition that finds invoices through its index instead of reading the company's invoices.
//!
//! How the index is read: [`crate::search`]. One or two characters match the start of the invoice's number.
//!
//! The condition is `invoices.id IN (…)`, so the list's filters, order and keyset pagination apply unchanged.

use super::InvoiceContent;
use crate::entities::{invoice_search, invoices};
use crate::scope::TenantScope;
use crate::search::{SearchTable, Wanted, matching_ids};
use portal_domain::search::{self, Query};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait};
use uuid::Uuid;

const TABLE: SearchTable = SearchTable {
    table: "invoice_search",
    fts: "invoice_search_fts",
    owner: "invoice_id",
    key: "number_key",
};

/// Rows per multi-row upsert (four values each, far under both backends' limits).
const CHUNK: usize = 200;

/// The search row of one invoice as its content says.
pub(crate) fn entry(
    tenant: Uuid,
    invoice: Uuid,
    content: &InvoiceContent,
) -> invoice_search::ActiveModel {
    let draft = &content.draft;
    let text = search::invoice_text(
        &draft.number,
        &draft.buyer.legal_name,
        &[
            draft.buyer_reference.as_str(),
            draft.purchase_order.as_str(),
            draft.contract.as_str(),
        ],
        &[content.totals.incl, content.totals.excl],
    );
    invoice_search::ActiveModel {
        invoice_id: Set(invoice),
        tenant_id: Set(tenant),
        number_key: Set(search::prefix_key(&draft.number)),
        text: Set(text),
        ..Default::default()
    }
}

/// Writes (or rewrites) the search rows, in the caller's transaction: every writer of an invoice's number,
/// customer name, references or totals calls this with the same content.
pub(crate) async fn index<C: ConnectionTrait>(
    conn: &C,
    entries: Vec<invoice_search::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in entries.chunks(CHUNK) {
        invoice_search::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(invoice_search::Column::InvoiceId)
                    .update_columns([
                        invoice_search::Column::NumberKey,
                        invoice_search::Column::Text,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// `invoices.id IN (the tenant's invoices matching `typed`)`, or `None` when there is nothing to search for.
pub(crate) fn condition(
    scope: &TenantScope,
    typed: &str,
    backend: DatabaseBackend,
) -> Option<Expr> {
    let wanted = match Query::parse(typed) {
        Query::Empty => return None,
        Query::Prefix(prefix) => Wanted::Prefix(prefix),
        Query::Text(text) => Wanted::Any(vec![text]),
    };
    let matches = matching_ids(&TABLE, scope.tenant_id().as_uuid(), wanted, backend);
    Some(Expr::col((invoices::Entity, invoices::Column::Id)).in_subquery(matches))
}

/// The total as the list orders and pages by it. While searching on SQLite it is written `+total_incl_cents`, which no index
/// satisfies: the planner then reads the matches by id and sorts those few, instead of walking the company's
/// invoices in total order through `idx_invoices_tenant_total` and testing each against the matches.
pub(crate) fn total_order(typed: Option<&str>, backend: DatabaseBackend) -> Expr {
    let searching = typed.is_some_and(|typed| Query::parse(typed) != Query::Empty);
    if searching && backend == DatabaseBackend::Sqlite {
        Expr::cust("+\"invoices\".\"total_incl_cents\"")
    } else {
        Expr::col((invoices::Entity, invoices::Column::TotalInclCents))
    }
}
