//! Search through an index instead of a scan, shared by the invoice list and the customers list.
//!
//! Each searchable kind keeps one row per document in its own table (`invoice_search`, `customer_search`):
//! `doc` (an INTEGER PRIMARY KEY on SQLite, the FTS5 index's key), the document's id, `tenant_id`, a short
//! `…_key` for one- and two-character queries, and `text`, folded in Rust (`portal_domain::search::fold`) so
//! that both backends compare the same lower-case text without accents.
//!
//! - Three characters or more: a substring of the text, through the FTS5 trigram index on SQLite (a quoted
//!   phrase of trigrams is a substring match) and the `pg_trgm` GIN index on PostgreSQL (`LIKE '%…%'`). Both
//!   start from the index's matches and keep the tenant's, so the work grows with the matches, not with the
//!   company.
//! - One or two characters (no trigram to look up): the start of the key, an index range on
//!   `(tenant_id, key)`.
//! - A field whose trigrams are in nearly every document (the invoice's number: `f20`, `202`, `000`…) is kept
//!   out of `text` as its suffixes, in a table keyed `(tenant_id, suffix, owner)`: a query is in the field
//!   exactly when it starts a suffix, a range of the company's part of the key. Its matches join the text's
//!   (`UNION ALL`).

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, LikeExpr, Query as Select, SelectStatement, UnionType,
};
use uuid::Uuid;

/// A search table and its indexes, as the migration made them.
pub(crate) struct SearchTable {
    pub table: &'static str,
    /// The FTS5 table over `text` (SQLite).
    pub fts: &'static str,
    /// The document's id column.
    pub owner: &'static str,
    /// The column one- and two-character queries match the start of.
    pub key: &'static str,
    /// A table of `(tenant_id, suffix, owner)` keyed in that order: the ends of a field kept out of `text`
    /// (the invoice's number), which a longer query may be in.
    pub suffixes: Option<&'static str>,
}

/// What is looked for.
pub(crate) enum Wanted {
    /// Any of these substrings of the text (each at least three characters, folded).
    Any(Vec<String>),
    /// The start of the key (folded).
    Prefix(String),
}

/// `SELECT owner FROM table WHERE tenant_id = ? AND (match)`: the ids of the tenant's documents that match.
pub(crate) fn matching_ids(
    search: &SearchTable,
    tenant: Uuid,
    wanted: Wanted,
    backend: DatabaseBackend,
) -> SelectStatement {
    let table = Alias::new(search.table);
    let column = |name: &str| Expr::col((table.clone(), Alias::new(name)));
    let mut select = Select::select();
    select
        .column((table.clone(), Alias::new(search.owner)))
        .and_where(column("tenant_id").eq(tenant));
    match wanted {
        Wanted::Prefix(prefix) => {
            select.from(table.clone());
            starting_with(&mut select, || column(search.key), &prefix);
        }
        Wanted::Any(texts) => {
            let in_suffixes = search.suffixes.map(|suffixes| {
                texts
                    .iter()
                    .map(|text| starting_one(suffixes, search.owner, tenant, text))
                    .collect::<Vec<_>>()
            });
            if backend == DatabaseBackend::Sqlite {
                in_text_sqlite(&mut select, search, &texts);
            } else {
                in_text_postgres(&mut select, search, &texts);
            }
            for in_suffix in in_suffixes.into_iter().flatten() {
                select.union(UnionType::All, in_suffix);
            }
        }
    }
    select
}

/// The FTS5 trigram index's matches of any of `texts`.
fn in_text_sqlite(select: &mut SelectStatement, search: &SearchTable, texts: &[String]) {
    let table = Alias::new(search.table);
    let fts = Alias::new(search.fts);
    // Quoted FTS5 strings: the trigram tokenizer reads each as consecutive trigrams, a substring.
    let query = texts
        .iter()
        .map(|text| format!("\"{}\"", text.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" OR ");
    // CROSS JOIN: SQLite keeps this order, the index's matches first, then their rows by `doc`; left to itself it
    // may prefer walking the tenant's rows through `(tenant_id, key)` and asking the index of each, which reads
    // the whole company.
    select
        .from(fts.clone())
        .cross_join(table.clone())
        .and_where(Expr::col((fts, Alias::new("rowid"))).equals((table, Alias::new("doc"))))
        .and_where(Expr::cust_with_values(
            format!("\"{}\" MATCH ?", search.fts),
            [query],
        ));
}

/// The `pg_trgm` GIN index's matches of any of `texts`.
fn in_text_postgres(select: &mut SelectStatement, search: &SearchTable, texts: &[String]) {
    let table = Alias::new(search.table);
    select.from(table.clone());
    let any = texts
        .iter()
        .map(|text| {
            Expr::col((table.clone(), Alias::new("text"))).like(LikeExpr::new(like_contains(text)))
        })
        .reduce(|left, right| left.or(right));
    if let Some(any) = any {
        select.and_where(any);
    }
}

/// `SELECT owner FROM suffixes WHERE tenant_id = ? AND suffix starts with text`: a range of the key.
fn starting_one(suffixes: &str, owner: &str, tenant: Uuid, text: &str) -> SelectStatement {
    let table = Alias::new(suffixes);
    let mut select = Select::select();
    select
        .column((table.clone(), Alias::new(owner)))
        .from(table.clone())
        .and_where(Expr::col((table.clone(), Alias::new("tenant_id"))).eq(tenant));
    starting_with(
        &mut select,
        || Expr::col((table.clone(), Alias::new("suffix"))),
        text,
    );
    select
}

/// `column` starts with `prefix`: `column >= prefix AND column < the next prefix`, a range of an index on it.
fn starting_with(select: &mut SelectStatement, column: impl Fn() -> Expr, prefix: &str) {
    select.and_where(column().gte(prefix));
    if let Some(end) = portal_domain::search::prefix_end(prefix) {
        select.and_where(column().lt(end));
    }
}

/// A LIKE pattern for `text` anywhere, escaped with PostgreSQL's default escape (backslash), which `pg_trgm`
/// understands when it reads the pattern's trigrams (an ESCAPE clause would hide the pattern from the index).
fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
