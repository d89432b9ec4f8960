//! The invoice list's search: the folded text kept per invoice in `invoice_search` (written with the invoice) and
//! the condition that finds invoices through its index instead of reading the company's invoices.
//!
//! How the index is read: [`crate::search`]. One or two characters match the start of the invoice's number;
//! longer queries a substring of the text (customer, references, amounts) or of the number, through the
//! number's suffixes (`invoice_number_suffix`).
//!
//! The condition is `invoices.id IN (…)`, so the list's filters, order and keyset pagination apply unchanged.

use super::InvoiceContent;
use crate::entities::{invoice_number_suffix, invoice_search, invoices};
use crate::scope::TenantScope;
use crate::search::{SearchTable, Wanted, matching_ids};
use portal_domain::search::{self, Query};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter,
};
use uuid::Uuid;

const TABLE: SearchTable = SearchTable {
    table: "invoice_search",
    fts: "invoice_search_fts",
    owner: "invoice_id",
    key: "number_key",
    suffixes: Some("invoice_number_suffix"),
};

/// Rows per multi-row upsert (four values each, far under both backends' limits).
const CHUNK: usize = 200;
/// Suffix rows per insert (three values each; a chunk's invoices may have up to 33 each).
const SUFFIX_ROWS: usize = 2_000;

/// What one invoice is found by.
pub(crate) struct Entry {
    tenant: Uuid,
    invoice: Uuid,
    /// The folded number without spaces, for one- and two-character queries.
    number_key: String,
    fields: search::InvoiceSearch,
}

/// What one invoice is found by, as its content says.
pub(crate) fn entry(tenant: Uuid, invoice: Uuid, content: &InvoiceContent) -> Entry {
    let draft = &content.draft;
    Entry {
        tenant,
        invoice,
        number_key: search::prefix_key(&draft.number),
        fields: search::invoice_search(
            &draft.number,
            &draft.buyer.legal_name,
            &[
                draft.buyer_reference.as_str(),
                draft.purchase_order.as_str(),
                draft.contract.as_str(),
            ],
            &[content.totals.incl, content.totals.excl],
        ),
    }
}

/// Writes (or rewrites) the search rows and number suffixes, in the caller's transaction: every writer of an
/// invoice's number, customer name, references or totals calls this with the same content.
pub(crate) async fn index<C: ConnectionTrait>(conn: &C, entries: Vec<Entry>) -> Result<(), DbErr> {
    for chunk in entries.chunks(CHUNK) {
        invoice_search::Entity::insert_many(chunk.iter().map(|entry| {
            invoice_search::ActiveModel {
                invoice_id: Set(entry.invoice),
                tenant_id: Set(entry.tenant),
                number_key: Set(entry.number_key.clone()),
                text: Set(entry.fields.text.clone()),
                ..Default::default()
            }
        }))
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
        invoice_number_suffix::Entity::delete_many()
            .filter(
                invoice_number_suffix::Column::InvoiceId
                    .is_in(chunk.iter().map(|entry| entry.invoice)),
            )
            .exec(conn)
            .await?;
        let suffixes: Vec<invoice_number_suffix::ActiveModel> = chunk
            .iter()
            .flat_map(|entry| {
                entry.fields.number_suffixes.iter().map(|suffix| {
                    invoice_number_suffix::ActiveModel {
                        tenant_id: Set(entry.tenant),
                        suffix: Set(suffix.clone()),
                        invoice_id: Set(entry.invoice),
                    }
                })
            })
            .collect();
        for rows in suffixes.chunks(SUFFIX_ROWS) {
            invoice_number_suffix::Entity::insert_many(rows.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
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
