//! The firm console's exception inbox: everything that needs someone, across the companies a person may see, in
//! one query per page.
//!
//! One `UNION ALL` of keys over the invoices' summary columns (open requests, refusals, rejections, tax-data
//! rejections: `idx_invoices_waiting` alone; failed submissions), the failed payments, the undelivered emails, the
//! companies whose Billit connection fails (`billit_health`) and the companies from which no status came while
//! invoices are in flight (`idx_invoices_in_flight`), each arm filtered by `tenant_id IN (the visible companies)`
//! on an index that leads with `tenant_id` (so its work is bounded by the exceptions, never by the invoices), then
//! ordered by how long each has waited and cut by a keyset cursor. Only the rows of the page then read their
//! details (number, customer, reasons, the answer by email). The list of companies comes from scopes only.

use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::ids::{InvoiceId, TenantId};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Value};
use uuid::Uuid;

/// What kind of thing waits for someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InboxKind {
    /// An open 207 (dispute) or 208 (suspension).
    Request,
    /// A 210: the buyer refused the invoice.
    Refused,
    /// A 213: a platform rejected it.
    Rejected,
    /// A 251 or 501: the tax authority rejected its data.
    TaxRejected,
    /// Sending to Billit failed (the order may have been created but not sent).
    Submission,
    /// Billit refused a payment's 212 report.
    Payment,
    /// An email could not be delivered (or may not have been).
    Email,
    /// The company's last call to Billit failed after its last success (a refused key, Billit unreachable …).
    Connection,
    /// No status came from Billit for too long while invoices are in flight.
    Silent,
}

impl InboxKind {
    pub const ALL: [Self; 9] = [
        Self::Request,
        Self::Refused,
        Self::Rejected,
        Self::TaxRejected,
        Self::Submission,
        Self::Payment,
        Self::Email,
        Self::Connection,
        Self::Silent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Refused => "refused",
            Self::Rejected => "rejected",
            Self::TaxRejected => "tax",
            Self::Submission => "submission",
            Self::Payment => "payment",
            Self::Email => "email",
            Self::Connection => "connection",
            Self::Silent => "silent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One row of the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub kind: InboxKind,
    pub tenant_id: TenantId,
    pub invoice_id: Option<InvoiceId>,
    pub number: Option<String>,
    pub buyer: Option<String>,
    /// The official status code the row is about (207, 208, 210, 213, 251, 501, 212), if any.
    pub code: Option<i32>,
    /// Since when it waits.
    pub since: DateTime<Utc>,
    /// What the row is (the invoice, payment, email or company): with `since`, the keyset.
    pub item_id: Uuid,
    /// JSON array of reason codes of the status (requests and rejections).
    pub reasons: Option<String>,
    /// The requested action's code (NIN, PIN …), if the status carried one; for a payment, Billit's words.
    pub requested_action: Option<String>,
    /// What failed, as stored (a submission's or a payment's failure code, the mail server's answer, the word of
    /// a failing connection's last failure); for a silent company, how many invoices are in flight.
    pub error: Option<String>,
    /// When the open request was last answered by email, and by whom.
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    /// Billit's order id (a failed submission with one: the order was created but not sent).
    pub order_id: Option<i64>,
}

/// Where the next page starts (after this row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub since: DateTime<Utc>,
    pub item_id: Uuid,
}

/// What to show.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    /// Only these kinds (empty: every kind).
    pub kinds: Vec<InboxKind>,
    /// Waiting since at or after this instant (younger than an age).
    pub since_from: Option<DateTime<Utc>>,
    /// Waiting since before this instant (older than an age).
    pub since_until: Option<DateTime<Utc>>,
    /// A company is silent when its invoices in flight have heard nothing since this instant.
    pub silent_before: DateTime<Utc>,
    pub after: Option<InboxCursor>,
    pub limit: u64,
}

/// The statement's text and values for the scopes' companies (exposed for the query-plan test).
///
/// The page's rows are chosen first, from the arms' keys alone (the invoices' arm reads `idx_invoices_waiting`
/// and nothing else); the details (number, customer, reasons, the answer by email) are then read for those rows
/// only. Built the other way, every row that waits paid for its details before the sort kept fifty of them.
pub fn inbox_statement(
    backend: DbBackend,
    scopes: &[TenantScope],
    query: &InboxQuery,
) -> sea_orm::Statement {
    let (union, mut values) = union_of(backend, scopes, query);
    let mut sql = format!("WITH page AS MATERIALIZED (SELECT * FROM ({union}) x WHERE 1 = 1");
    push_age(&mut sql, &mut values, query);
    if let Some(after) = &query.after {
        sql.push_str(" AND (x.since > ? OR (x.since = ? AND x.item_id > ?))");
        values.push(after.since.into());
        values.push(after.since.into());
        values.push(after.item_id.into());
    }
    sql.push_str(" ORDER BY x.since, x.item_id LIMIT ?)");
    values.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
    let statuses = STATUS_KINDS
        .iter()
        .map(|(kind, _)| format!("'{}'", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    // The open request's or the final status's latest event gives its reasons and requested action; the latest
    // answer by email to the open request says whether and by whom it was answered.
    sql.push_str(&format!(
        " SELECT w.kind AS kind, w.tenant_id AS tenant_id, w.invoice_id AS invoice_id, i.number AS number, \
         i.buyer_name AS buyer, w.code AS code, w.since AS since, w.item_id AS item_id, \
         CASE WHEN w.kind IN ({statuses}) THEN (SELECT ev.reasons FROM invoice_events ev \
         WHERE ev.tenant_id = w.tenant_id AND ev.invoice_id = w.invoice_id AND ev.code = w.code \
         ORDER BY ev.at DESC LIMIT 1) END AS reasons, \
         CASE WHEN w.kind IN ({statuses}) THEN (SELECT ev.requested_action FROM invoice_events ev \
         WHERE ev.tenant_id = w.tenant_id AND ev.invoice_id = w.invoice_id AND ev.code = w.code \
         ORDER BY ev.at DESC LIMIT 1) ELSE w.detail END AS requested_action, \
         CASE WHEN w.kind IN ({statuses}, 'submission') THEN i.submission_error ELSE w.error END AS error, \
         CASE WHEN w.kind IN ({statuses}) THEN (SELECT e.created_at FROM invoice_emails e \
         WHERE e.tenant_id = w.tenant_id AND e.invoice_id = w.invoice_id \
         AND e.request_code = i.open_request_code ORDER BY e.created_at DESC LIMIT 1) END AS answered_at, \
         CASE WHEN w.kind IN ({statuses}) THEN (SELECT u.name FROM invoice_emails e \
         JOIN users u ON u.id = e.sent_by WHERE e.tenant_id = w.tenant_id AND e.invoice_id = w.invoice_id \
         AND e.request_code = i.open_request_code ORDER BY e.created_at DESC LIMIT 1) END AS answered_by, \
         CASE WHEN w.kind = 'email' THEN NULL ELSE i.billit_order_id END AS order_id \
         FROM page w LEFT JOIN invoices i ON i.tenant_id = w.tenant_id AND i.id = w.invoice_id \
         ORDER BY w.since, w.item_id"
    ));
    crate::jobs::statement(backend, &sql, values)
}

/// One page of the inbox over the companies of `scopes`, oldest first.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    scopes: &[TenantScope],
    query: &InboxQuery,
) -> Result<Vec<InboxItem>, DbErr> {
    if scopes.is_empty() || query.limit == 0 {
        return Ok(Vec::new());
    }
    let rows = conn
        .query_all_raw(inbox_statement(conn.get_database_backend(), scopes, query))
        .await?;
    rows.iter()
        .filter_map(|row| item_of(row).transpose())
        .collect()
}

/// How many rows of each kind the inbox holds (over the age filter, every kind), in one query over the same keys
/// as a page (no detail is read).
pub async fn counts<C: ConnectionTrait>(
    conn: &C,
    scopes: &[TenantScope],
    query: &InboxQuery,
) -> Result<Vec<(InboxKind, u64)>, DbErr> {
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let every_kind = InboxQuery {
        kinds: Vec::new(),
        after: None,
        ..query.clone()
    };
    let backend = conn.get_database_backend();
    let (union, mut values) = union_of(backend, scopes, &every_kind);
    let mut sql = format!("SELECT x.kind AS kind, COUNT(*) AS n FROM ({union}) x WHERE 1 = 1");
    push_age(&mut sql, &mut values, &every_kind);
    sql.push_str(" GROUP BY x.kind");
    let rows = conn
        .query_all_raw(crate::jobs::statement(backend, &sql, values))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let n: i64 = row.try_get("", "n")?;
        if let Some(kind) = InboxKind::parse(&kind) {
            out.push((kind, u64::try_from(n).unwrap_or(0)))
        }
    }
    out.sort();
    Ok(out)
}

fn push_age(sql: &mut String, values: &mut Vec<Value>, query: &InboxQuery) {
    if let Some(from) = query.since_from {
        sql.push_str(" AND x.since >= ?");
        values.push(from.into());
    }
    if let Some(until) = query.since_until {
        sql.push_str(" AND x.since < ?");
        values.push(until.into());
    }
}

/// `(?, ?, …)` with the scopes' tenant ids.
fn tenants_in(scopes: &[TenantScope], values: &mut Vec<Value>) -> String {
    let marks = vec!["?"; scopes.len()].join(", ");
    values.extend(
        scopes
            .iter()
            .map(|scope| Value::from(scope.tenant_id().as_uuid())),
    );
    format!("({marks})")
}

/// The kinds an invoice's headline status makes, with their official codes.
const STATUS_KINDS: [(InboxKind, &[i32]); 4] = [
    (InboxKind::Request, &[207, 208]),
    (InboxKind::Refused, &[210]),
    (InboxKind::Rejected, &[213]),
    (InboxKind::TaxRejected, &[251, 501]),
];

/// The arms the kinds need, in one `UNION ALL` of keys: what the row is, since when it waits and, for the rows
/// that are not an invoice's, the words they carry. Every arm has the same columns.
fn union_of(
    backend: DbBackend,
    scopes: &[TenantScope],
    query: &InboxQuery,
) -> (String, Vec<Value>) {
    let wants = |kind: InboxKind| query.kinds.is_empty() || query.kinds.contains(&kind);
    let mut values = Vec::new();
    let mut arms = Vec::new();
    let statuses: Vec<(InboxKind, &[i32])> = STATUS_KINDS
        .into_iter()
        .filter(|(kind, _)| wants(*kind))
        .collect();
    if !statuses.is_empty() {
        let list = |codes: &[i32]| {
            codes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let case = statuses
            .iter()
            .map(|(kind, codes)| {
                format!(
                    "WHEN i.headline_code IN ({}) THEN '{}'",
                    list(codes),
                    kind.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        let any = list(
            &statuses
                .iter()
                .flat_map(|(_, codes)| codes.iter().copied())
                .collect::<Vec<_>>(),
        );
        let tenants = tenants_in(scopes, &mut values);
        values.push(true.into());
        // Every column comes from `idx_invoices_waiting`: an open request waits since it was asked, any other
        // status since it first arrived.
        arms.push(format!(
            "SELECT {} FROM invoices i WHERE i.tenant_id IN {tenants} AND i.needs_action = ? \
             AND i.headline_code IN ({any})",
            columns([
                &format!("CASE {case} ELSE 'other' END"),
                "i.tenant_id",
                "i.id",
                "i.headline_code",
                "CASE WHEN i.headline_code IN (207, 208) \
                 THEN COALESCE(i.open_request_since, i.headline_since) ELSE i.headline_since END",
                "i.id",
                "NULL",
                "NULL",
            ]),
        ));
    }
    if wants(InboxKind::Submission) {
        let tenants = tenants_in(scopes, &mut values);
        arms.push(format!(
            "SELECT {} FROM invoices i WHERE i.tenant_id IN {tenants} AND i.submission_state = 'failed'",
            columns([
                "'submission'", "i.tenant_id", "i.id", "i.headline_code", "i.updated_at", "i.id", "NULL",
                "NULL",
            ]),
        ));
    }
    if wants(InboxKind::Payment) {
        let tenants = tenants_in(scopes, &mut values);
        arms.push(format!(
            "SELECT {} FROM payments p WHERE p.tenant_id IN {tenants} AND p.state = 'failed'",
            columns([
                "'payment'",
                "p.tenant_id",
                "p.invoice_id",
                "212",
                "p.updated_at",
                "p.id",
                "p.error_code",
                "p.error_detail",
            ]),
        ));
    }
    if wants(InboxKind::Email) {
        let tenants = tenants_in(scopes, &mut values);
        arms.push(format!(
            "SELECT {} FROM outbox o LEFT JOIN invoice_emails e ON e.tenant_id = o.tenant_id AND e.outbox_id = o.id \
             WHERE o.tenant_id IN {tenants} AND o.status IN ('failed', 'uncertain')",
            columns([
                "'email'", "o.tenant_id", "e.invoice_id", NO_CODE, "o.created_at", "o.id", "o.last_error",
                "NULL",
            ]),
        ));
    }
    if wants(InboxKind::Connection) {
        // One primary-key probe per company: the run of failures started at `failing_since` (older rows, written
        // before it existed, fall back to the last failure).
        let tenants = tenants_in(scopes, &mut values);
        arms.push(format!(
            "SELECT {} FROM billit_health h WHERE h.tenant_id IN {tenants} AND h.last_error_at IS NOT NULL \
             AND (h.last_success_at IS NULL OR h.last_error_at > h.last_success_at)",
            columns([
                "'connection'", "h.tenant_id", NO_INVOICE, NO_CODE, "COALESCE(h.failing_since, h.last_error_at)",
                "h.tenant_id", "h.last_error_kind", "NULL",
            ]),
        ));
    }
    if wants(InboxKind::Silent) {
        // The invoices in flight only, through their partial index (the predicate is the index's, word for word).
        // SQLite, which would rather walk every sent invoice of the company by `idx_invoices_tenant_state`
        // (three equalities), is told which.
        let tenants = tenants_in(scopes, &mut values);
        let index = if backend == DbBackend::Sqlite {
            " INDEXED BY idx_invoices_in_flight"
        } else {
            ""
        };
        values.push(query.silent_before.into());
        // The arm reads one table, so the predicate's bare column names are its own.
        let in_flight = portal_migrations::IN_FLIGHT;
        arms.push(format!(
            "SELECT {} FROM invoices i{index} WHERE i.tenant_id IN {tenants} AND {in_flight} GROUP BY i.tenant_id \
             HAVING MAX(COALESCE(i.last_event_at, i.sent_at, i.updated_at)) < ?",
            columns([
                "'silent'", "i.tenant_id", NO_INVOICE, NO_CODE,
                "MAX(COALESCE(i.last_event_at, i.sent_at, i.updated_at))", "i.tenant_id",
                "CAST(COUNT(*) AS TEXT)", "NULL",
            ]),
        ));
    }
    if arms.is_empty() {
        // No kind asked for: an empty result with the same columns.
        arms.push(format!(
            "SELECT {} WHERE 1 = 0",
            columns([
                "'other'",
                "CAST(NULL AS UUID)",
                NO_INVOICE,
                NO_CODE,
                "CAST(NULL AS TIMESTAMPTZ)",
                "CAST(NULL AS UUID)",
                "NULL",
                "NULL",
            ])
        ));
    }
    (arms.join(" UNION ALL "), values)
}

/// Typed empty values: PostgreSQL reads a bare `NULL` column as text, which the page's join and look-ups then
/// compare with a uuid or an integer.
const NO_INVOICE: &str = "CAST(NULL AS UUID)";
const NO_CODE: &str = "CAST(NULL AS INTEGER)";

/// The names every arm's columns go by: whichever arm comes first names the union's columns (a filter on one
/// kind leaves that arm alone). `error` and `detail` carry the words of the rows that are not an invoice's
/// status (a payment's failure code and Billit's words, the mail server's answer, the failing connection's
/// word, how many invoices a silent company has in flight).
const COLUMNS: [&str; 8] = [
    "kind",
    "tenant_id",
    "invoice_id",
    "code",
    "since",
    "item_id",
    "error",
    "detail",
];

/// `expression AS name, …` in the order of [`COLUMNS`].
fn columns(expressions: [&str; 8]) -> String {
    expressions
        .iter()
        .zip(COLUMNS)
        .map(|(expression, name)| format!("{expression} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn item_of(row: &QueryResult) -> Result<Option<InboxItem>, DbErr> {
    let kind: String = row.try_get("", "kind")?;
    let Some(kind) = InboxKind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(InboxItem {
        kind,
        tenant_id: TenantId::from_uuid(row.try_get("", "tenant_id")?),
        invoice_id: row
            .try_get::<Option<Uuid>>("", "invoice_id")?
            .map(InvoiceId::from_uuid),
        number: row.try_get("", "number")?,
        buyer: row.try_get("", "buyer")?,
        code: row.try_get("", "code")?,
        since: row.try_get("", "since")?,
        item_id: row.try_get("", "item_id")?,
        reasons: row.try_get("", "reasons")?,
        requested_action: row.try_get("", "requested_action")?,
        error: row.try_get("", "error")?,
        answered_at: row.try_get("", "answered_at")?,
        answered_by: row.try_get("", "answered_by")?,
        order_id: row.try_get("", "order_id")?,
    }))
}
