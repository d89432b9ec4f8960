//! The customers list's search: the folded text kept per customer in `customer_search` (written with the
//! customer: name, SIREN, SIRET, VAT number) and the condition that finds customers through its index
//! ([`crate::search`]) instead of reading the company's customers. One or two characters match the start of the
//! name.

use crate::entities::{customer_search, customers};
use crate::scope::TenantScope;
use crate::search::{SearchTable, Wanted, matching_ids};
use crate::text::without_wildcards;
use portal_domain::search::{self, Query, TRIGRAM};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait};
use uuid::Uuid;

const TABLE: SearchTable = SearchTable {
    table: "customer_search",
    fts: "customer_search_fts",
    owner: "customer_id",
    key: "name_key",
    suffixes: None,
};

/// Rows per multi-row upsert (four values each, far under both backends' limits).
const CHUNK: usize = 200;

/// The search row of one customer.
pub(crate) fn entry(
    tenant: Uuid,
    customer: Uuid,
    legal_name: &str,
    identifiers: &[&str],
) -> customer_search::ActiveModel {
    customer_search::ActiveModel {
        customer_id: Set(customer),
        tenant_id: Set(tenant),
        name_key: Set(search::prefix_key(legal_name)),
        text: Set(search::customer_text(legal_name, identifiers)),
        ..Default::default()
    }
}

/// The search row of a customer as stored.
pub(crate) fn entry_of(model: &customers::Model) -> customer_search::ActiveModel {
    entry(
        model.tenant_id,
        model.id,
        &model.legal_name,
        &[
            model.siren.as_str(),
            model.siret.as_deref().unwrap_or_default(),
            model.vat_number.as_deref().unwrap_or_default(),
        ],
    )
}

/// Writes (or rewrites) the search rows, in the caller's transaction: every writer of a customer's name or
/// identifiers calls this.
pub(crate) async fn index<C: ConnectionTrait>(
    conn: &C,
    entries: Vec<customer_search::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in entries.chunks(CHUNK) {
        customer_search::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(customer_search::Column::CustomerId)
                    .update_columns([
                        customer_search::Column::NameKey,
                        customer_search::Column::Text,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// `customers.id IN (the tenant's customers matching `typed`)`, or `None` when there is nothing to search for
/// (wildcards typed in the box are dropped, as before: a search for "%" lists everyone). The typed text is
/// looked for as written (in the name) and without its spaces (identifiers typed in groups: "130 005").
pub(crate) fn condition(
    scope: &TenantScope,
    typed: &str,
    backend: DatabaseBackend,
) -> Option<Expr> {
    let wanted = match Query::parse(&without_wildcards(typed)) {
        Query::Empty => return None,
        Query::Prefix(prefix) => Wanted::Prefix(prefix),
        Query::Text(text) => {
            let compact = text.replace(' ', "");
            let mut any = vec![text];
            if !any.contains(&compact) && compact.chars().count() >= TRIGRAM {
                any.push(compact);
            }
            Wanted::Any(any)
        }
    };
    let matches = matching_ids(&TABLE, scope.tenant_id().as_uuid(), wanted, backend);
    Some(Expr::col((customers::Entity, customers::Column::Id)).in_subquery(matches))
}
