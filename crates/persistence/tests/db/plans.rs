//! The query-plan test: every query a page, an API call or a worker sends is planned (`EXPLAIN QUERY PLAN` on
//! SQLite, `EXPLAIN` on PostgreSQL) over two companies of unequal size, and none may read a whole company's
//! invoices, events or jobs: no full scan, no walk of every row of a company through an index that only says
//! which company, no sort of every matching row to keep a page of them.
//!
//! The statements are the ones the repositories really send: each line of the table below calls the repository
//! function on a connection whose metric callback records every statement (sea-orm's `set_metric_callback`), so
//! nothing is copied by hand and nothing drifts. A new query gets a line here.
//!
//! PostgreSQL plans with `SET LOCAL enable_seqscan = off`: the tables the seed leaves small would honestly be
//! scanned, which says nothing of a company with years of history; with the scan priced out, a plan that still
//! scans has no index to use, which is what this looks for. PostgreSQL chooses between indexes by the rows it
//! sees, so its company-walk and sort rules apply to the tables the large company fills (invoices, events, jobs);
//! for the others SQLite's planner, which goes by rules where it has no statistics, is the judge. And since one
//! company holds nearly every row here, PostgreSQL may read a page in primary-key order filtering the company:
//! like a company-only index, that is bounded only when it is an ordered page cut by a LIMIT.
//!
//! The rules, per statement: no full scan of a table a company's history grows (`SCAN t`, `Seq Scan on t`); no
//! read of all of one company's rows through an index that only says which company (`(tenant_id=?)`), unless it
//! is read in the order asked for and cut by a LIMIT (a keyset page); no sort of every matching row under a
//! LIMIT (`USE TEMP B-TREE FOR ORDER BY`, `Sort`; a partial sort of ties is fine); and a next page (a line
//! named "… next page") must find its keyset in the index condition, not skip the pages before it. Partial
//! indexes hold only
//! what waits, so reading a company's entries of one is bounded by what waits. A line may allow one walk or one
//! sort, with the reason.

use crate::fresh;
use chrono::{DateTime, Datelike, Duration, Utc};
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{BuyerDraft, DocumentType, InvoiceDraft};
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::answers::InvoiceEmailRepository;
use portal_persistence::api::{ApiRepository, FeedCursor, TokenScope};
use portal_persistence::customers::CustomerRepository;
use portal_persistence::directory::DirectoryCheckRepository;
use portal_persistence::firm::FirmRepository;
use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::firm_inbox::{self, InboxQuery};
use portal_persistence::invoices::{
    InvoiceContent, InvoiceFilter, InvoiceRepository, InvoiceSort, SubmissionState, TotalsCents,
};
use portal_persistence::jobs::{JobQueue, NewJob};
use portal_persistence::outgoing_webhooks::OutgoingWebhookRepository;
use portal_persistence::payments::PaymentRepository;
use portal_persistence::reminders::ReminderRepository;
use portal_persistence::seed::{SeedCustomer, SeedInvoice, insert_customers, insert_invoices};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::testing::TestDatabase;
use portal_persistence::throttle::{LoginThrottle, ThrottlePolicy};
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Invoices of the large company (the small one has a handful): enough for both planners to see that a company's
/// rows are many, cheap enough to seed in a second or two.
const LARGE: usize = 3_000;

/// Tables a company's history grows: a plan may never read all of one company's rows of these.
const GROWING: [&str; 19] = [
    "invoices",
    "invoice_search",
    "invoice_number_suffix",
    "invoice_events",
    "jobs",
    "payments",
    "customers",
    "outbox",
    "outbox_attachments",
    "invoice_emails",
    "webhook_deliveries",
    "webhook_messages",
    "webhook_attempts",
    "reminders",
    "audit_log",
    "api_idempotency",
    "api_tokens",
    "login_throttle",
    "sessions",
];

/// Tables the large company fills with thousands of rows: the ones whose plans PostgreSQL chooses by their size.
const SEEDED: [&str; 3] = ["invoices", "invoice_events", "jobs"];

// ---------------------------------------------------------------------------------------------------------------
// The checker (one for both backends).
// ---------------------------------------------------------------------------------------------------------------

/// What a line of the table may do besides reading what it shows (full scans are never allowed).
#[derive(Debug, Clone, Copy)]
pub enum Allow {
    /// Nothing: bounded by what it shows.
    Nothing,
    /// A documented walk of a company's rows of this table (`why` says why it is tolerated, and until when).
    Walk {
        table: &'static str,
        why: &'static str,
    },
    /// A documented sort of every matching row (`why` says why those rows are few whatever the history).
    Sort { why: &'static str },
}

/// One statement found reading a whole company.
#[derive(Debug, Clone)]
pub struct Finding {
    pub query: String,
    pub problems: Vec<String>,
    pub sql: String,
    pub plan: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "query «{}»: {}", self.query, self.problems.join("; "))?;
        writeln!(f, "  sql:  {}", self.sql)?;
        for line in self.plan.lines() {
            writeln!(f, "  plan: {line}")?;
        }
        Ok(())
    }
}

/// Records the statements a repository sends through its connection.
#[derive(Clone)]
pub struct Recorder {
    pub db: DatabaseConnection,
    sent: Arc<Mutex<Vec<Statement>>>,
}

impl Recorder {
    pub fn new(db: &DatabaseConnection) -> Self {
        let sent: Arc<Mutex<Vec<Statement>>> = Arc::default();
        let mut db = db.clone();
        let sink = Arc::clone(&sent);
        db.set_metric_callback(move |info| {
            if let Ok(mut sent) = sink.lock() {
                sent.push(info.statement.clone());
            }
        });
        Self { db, sent }
    }

    /// What was sent since the last call (reads only: writes without a read are planned by their key).
    pub fn take(&self) -> Vec<Statement> {
        self.sent
            .lock()
            .map(|mut sent| std::mem::take(&mut *sent))
            .unwrap_or_default()
    }
}

/// Plans statements and collects what reads a whole company.
pub struct Plans {
    db: DatabaseConnection,
    /// Index name -> table, to name the table behind a PostgreSQL bitmap index scan.
    index_tables: HashMap<String, String>,
    /// Every table, to read the aliases of a statement (SQLite's plans name a table by its alias).
    tables: Vec<String>,
    /// Partial indexes.
    partial: Vec<String>,
    pub findings: Vec<Finding>,
    /// Every planned query, with its plan (printed with --nocapture).
    pub checked: Vec<(String, String)>,
}

impl Plans {
    pub async fn new(db: &DatabaseConnection) -> Self {
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT indexname AS name, tablename AS tbl, indexdef AS def FROM pg_indexes \
                 WHERE schemaname = current_schema()"
            }
            _ => {
                "SELECT name, tbl_name AS tbl, COALESCE(sql, '') AS def FROM sqlite_master \
                 WHERE type = 'index'"
            }
        };
        let rows = db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("the index list");
        let tables_sql = match backend {
            DbBackend::Postgres => {
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
        };
        let tables = db
            .query_all_raw(Statement::from_string(backend, tables_sql))
            .await
            .expect("the table list")
            .iter()
            .filter_map(|row| row.try_get::<String>("", "name").ok())
            .collect();
        // A partial index holds only the rows that wait (open requests, unpaid or failed invoices, documents
        // with a related invoice): reading all of one company's entries of one is reading what waits, which is
        // what the firm's pages count and list.
        let partial = rows
            .iter()
            .filter(|row| {
                row.try_get::<String>("", "def")
                    .is_ok_and(|def| def.to_ascii_uppercase().contains(" WHERE "))
            })
            .filter_map(|row| row.try_get::<String>("", "name").ok())
            .collect();
        let index_tables = rows
            .iter()
            .filter_map(|row| {
                Some((
                    row.try_get::<String>("", "name").ok()?,
                    row.try_get::<String>("", "tbl").ok()?,
                ))
            })
            .collect();
        Self {
            db: db.clone(),
            index_tables,
            tables,
            partial,
            findings: Vec::new(),
            checked: Vec::new(),
        }
    }

    /// Plans every read among `statements` (sent for `query`), and notes those that read a whole company.
    pub async fn check(&mut self, query: &str, statements: Vec<Statement>, allow: Allow) {
        let reads: Vec<Statement> = statements
            .into_iter()
            .filter(|statement| {
                let head = statement.sql.trim_start().to_ascii_uppercase();
                head.starts_with("SELECT")
                    || head.starts_with("WITH")
                    || head.starts_with("UPDATE")
                    || head.starts_with("DELETE")
            })
            .collect();
        assert!(
            !reads.is_empty(),
            "query «{query}» sent no read: the line of the table no longer calls what it names"
        );
        let count = reads.len();
        for (n, statement) in reads.into_iter().enumerate() {
            let name = if count > 1 {
                format!("{query} ({} of {count})", n + 1)
            } else {
                query.to_owned()
            };
            let plan = self.plan(&statement).await;
            let problems = problems(
                self.db.get_database_backend(),
                &statement.sql,
                &plan,
                &self.index_tables,
                &aliases(&statement.sql, &self.tables),
                &self.partial,
                allow,
                query.contains("next page"),
            );
            let shown = match allow {
                Allow::Nothing => name.clone(),
                Allow::Walk { table, why } => format!("{name} [walks {table}: {why}]"),
                Allow::Sort { why } => format!("{name} [sorts: {why}]"),
            };
            self.checked.push((shown, plan.clone()));
            if !problems.is_empty() {
                self.findings.push(Finding {
                    query: name,
                    problems,
                    sql: statement.sql.clone(),
                    plan,
                });
            }
        }
    }

    /// Notes a finding unless the plans checked under `query` (a name or its prefix) use every index listed for
    /// this backend: the indexes a query was built for, named where a test used to check them one by one.
    pub fn expect_indexes(&mut self, query: &str, sqlite: &[&str], postgres: &[&str]) {
        let backend = self.db.get_database_backend();
        let wanted = if backend == DbBackend::Postgres {
            postgres
        } else {
            sqlite
        };
        let plans: Vec<&(String, String)> = self
            .checked
            .iter()
            .filter(|(name, _)| name.starts_with(query))
            .collect();
        assert!(!plans.is_empty(), "no query named «{query}» was checked");
        let text = plans
            .iter()
            .map(|(_, plan)| plan.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let missing: Vec<String> = wanted
            .iter()
            .filter(|index| !uses(&text, index))
            .map(|index| format!("does not use {index}"))
            .collect();
        if !missing.is_empty() {
            self.findings.push(Finding {
                query: query.to_owned(),
                problems: missing,
                sql: String::from("(see its plan above)"),
                plan: text,
            });
        }
    }

    /// The plan of `statement` as indented text.
    async fn plan(&self, statement: &Statement) -> String {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await.expect("a transaction to plan in");
        let prefix = match backend {
            DbBackend::Postgres => {
                txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                    .await
                    .expect("enable_seqscan off");
                "EXPLAIN "
            }
            _ => "EXPLAIN QUERY PLAN ",
        };
        let explained = Statement::from_sql_and_values(
            backend,
            format!("{prefix}{}", statement.sql),
            statement
                .values
                .clone()
                .map(|values| values.0)
                .unwrap_or_default(),
        );
        let rows = txn
            .query_all_raw(explained)
            .await
            .unwrap_or_else(|error| panic!("cannot plan {}: {error}", statement.sql));
        txn.rollback().await.expect("rollback");
        match backend {
            DbBackend::Postgres => rows
                .iter()
                .filter_map(|row| row.try_get_by_index::<String>(0).ok())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => {
                // (id, parent, notused, detail): indent each line under its parent.
                let mut depth: HashMap<i64, usize> = HashMap::new();
                let mut lines = Vec::new();
                for row in &rows {
                    let id: i64 = row.try_get_by_index(0).unwrap_or_default();
                    let parent: i64 = row.try_get_by_index(1).unwrap_or_default();
                    let detail: String = row.try_get_by_index(3).unwrap_or_default();
                    let level = depth.get(&parent).map_or(0, |level| level + 1);
                    depth.insert(id, level);
                    lines.push(format!("{}{detail}", "  ".repeat(level)));
                }
                lines.join("\n")
            }
        }
    }

    /// Panics with every finding (query, problem, SQL and plan) if there is one.
    pub fn assert_bounded(&self) {
        if std::env::var_os("PLANS_PRINT").is_some() {
            for (query, plan) in &self.checked {
                println!("== {query}\n{plan}");
            }
        }
        assert!(
            self.findings.is_empty(),
            "{} quer{} read a whole company (every page's database work must be bounded by what it shows):\n\n{}",
            self.findings.len(),
            if self.findings.len() == 1 { "y" } else { "ies" },
            self.findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Whether `plan` names `index` (a whole name: `idx_a` is not used by a plan that names `idx_a_b`).
fn uses(plan: &str, index: &str) -> bool {
    plan.match_indices(index).any(|(at, _)| {
        plan[at + index.len()..]
            .chars()
            .next()
            .is_none_or(|next| !(next.is_ascii_alphanumeric() || next == '_'))
    })
}

fn growing(table: &str) -> bool {
    GROWING.contains(&table)
}

/// The first word of `text` (a table or index name), without quotes.
fn word(text: &str) -> &str {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_matches('"')
}

/// Whether an index condition says only which company (or companies).
fn company_only(condition: &str) -> bool {
    let condition = condition
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let condition = condition.trim();
    !condition.contains(" AND ")
        && condition
            .split_once('.')
            .filter(|(alias, _)| !alias.contains(' ') && !alias.contains('='))
            .map_or(condition, |(_, rest)| rest)
            .starts_with("tenant_id")
}

/// Alias -> table in `sql` (`FROM invoices i`, `JOIN invoices AS i`).
fn aliases(sql: &str, tables: &[String]) -> HashMap<String, String> {
    const NOT_ALIASES: [&str; 16] = [
        "WHERE",
        "ON",
        "JOIN",
        "LEFT",
        "INNER",
        "CROSS",
        "GROUP",
        "ORDER",
        "LIMIT",
        "SET",
        "USING",
        "UNION",
        "VALUES",
        "RETURNING",
        "WINDOW",
        "EXCEPT",
    ];
    let cleaned: String = sql
        .chars()
        .map(|c| match c {
            '(' | ')' | ',' | ';' | '=' | '`' => ' ',
            '"' => ' ',
            other => other,
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut found = HashMap::new();
    for (n, word) in words.iter().enumerate() {
        if !tables.iter().any(|table| table == word) {
            continue;
        }
        let alias = match words.get(n + 1) {
            Some(next) if next.eq_ignore_ascii_case("AS") => words.get(n + 2),
            other => other,
        };
        if let Some(alias) = alias {
            let upper = alias.to_ascii_uppercase();
            if alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !NOT_ALIASES.contains(&upper.as_str())
            {
                found.insert((*alias).to_owned(), (*word).to_owned());
            }
        }
    }
    found
}

/// What in `plan` reads a whole company, per the rules of the module's documentation.
#[expect(
    clippy::too_many_arguments,
    reason = "one statement's plan with what is known of the schema and of the line"
)]
fn problems(
    backend: DbBackend,
    sql: &str,
    plan: &str,
    index_tables: &HashMap<String, String>,
    aliases: &HashMap<String, String>,
    partial: &[String],
    allow: Allow,
    next_page: bool,
) -> Vec<String> {
    let table_of = |name: &str| -> String {
        aliases
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    };
    let upper = sql.to_ascii_uppercase();
    let ordered_page = upper.contains(" LIMIT ") && upper.contains(" ORDER BY ");
    let mut scans = Vec::new();
    let mut company_walks: Vec<(String, String)> = Vec::new();
    let mut reads_growing = false;
    let mut sorts_everything = false;
    let lines: Vec<&str> = plan.lines().collect();
    match backend {
        DbBackend::Postgres => {
            for (n, line) in lines.iter().enumerate() {
                let node = line.trim_start().trim_start_matches("->").trim_start();
                if node.starts_with("Sort  (") {
                    sorts_everything = true;
                }
                if let Some(rest) = node.split_once("Seq Scan on ").map(|(_, rest)| rest) {
                    let table = table_of(word(rest));
                    if growing(&table) {
                        scans.push(format!("a full scan of {table}"));
                    }
                    continue;
                }
                let (index, table) = if let Some((_, rest)) = node
                    .starts_with("Index")
                    .then(|| node.split_once(" using "))
                    .flatten()
                {
                    let index = word(rest);
                    let table = rest
                        .split_once(" on ")
                        .map(|(_, table)| table_of(word(table)))
                        .unwrap_or_default();
                    (index, table)
                } else if let Some(rest) = node.strip_prefix("Bitmap Index Scan on ") {
                    let index = word(rest);
                    (index, index_tables.get(index).cloned().unwrap_or_default())
                } else {
                    continue;
                };
                if !growing(&table) {
                    continue;
                }
                // PostgreSQL's choice between indexes follows the rows it sees: it is telling only for the
                // tables the large company fills (elsewhere SQLite's check, on rules, says it).
                if !SEEDED.contains(&table.as_str()) {
                    continue;
                }
                reads_growing = true;
                // The node's own details, up to the next node.
                let condition = lines[n + 1..]
                    .iter()
                    .take_while(|detail| !detail.contains("->"))
                    .find_map(|detail| detail.trim().strip_prefix("Index Cond: "));
                match condition {
                    // An index read in its order with no condition at all (the primary key, when one company
                    // holds nearly every row, as here): bounded only as an ordered page, like a company-only one.
                    None => company_walks.push((
                        index.to_owned(),
                        format!(
                            "{table} through {index} (every company's rows, no index condition)"
                        ),
                    )),
                    Some(condition) if company_only(condition) => {
                        company_walks.push((
                            index.to_owned(),
                            format!("{table} through {index} ({condition})"),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        _ => {
            for line in &lines {
                let detail = line.trim();
                if detail == "USE TEMP B-TREE FOR ORDER BY" {
                    sorts_everything = true;
                }
                if let Some(rest) = detail.strip_prefix("SCAN ") {
                    let table = table_of(word(rest));
                    if growing(&table) {
                        scans.push(format!("a full scan of {table} ({detail})"));
                    }
                } else if let Some(rest) = detail.strip_prefix("SEARCH ") {
                    let table = table_of(word(rest));
                    if !growing(&table) {
                        continue;
                    }
                    reads_growing = true;
                    if let Some((_, condition)) = detail
                        .rsplit_once(" (")
                        .filter(|(_, condition)| company_only(condition))
                    {
                        let index = detail
                            .split_once(" INDEX ")
                            .map(|(_, rest)| word(rest))
                            .unwrap_or("its primary key");
                        company_walks.push((
                            index.to_owned(),
                            format!("{table} through {index} ({condition}"),
                        ));
                    }
                }
            }
        }
    }
    let mut problems = scans;
    // A company-only index read is bounded only when it is read in the order asked for and cut by a LIMIT, and
    // only on a first page: a next page whose keyset is not in the index condition reads the company from its
    // start to skip the pages before.
    if !ordered_page || sorts_everything || next_page {
        problems.extend(
            company_walks
                .into_iter()
                .filter(|(index, _)| !partial.contains(index))
                .filter(|(index, _)| {
                    !matches!(allow, Allow::Walk { table, .. } if index_tables.get(index).is_some_and(|of| of == table))
                })
                .map(|(_, walk)| format!("reads all of one company's {walk}")),
        );
    }
    if upper.contains(" LIMIT ")
        && sorts_everything
        && reads_growing
        && !matches!(allow, Allow::Sort { .. })
    {
        problems.push(
            "sorts every matching row to keep a page of them (no index gives the order asked for)"
                .to_owned(),
        );
    }
    problems
}

// ---------------------------------------------------------------------------------------------------------------
// The two companies.
// ---------------------------------------------------------------------------------------------------------------

pub struct World {
    pub test: TestDatabase,
    pub small: TenantScope,
    pub large: TenantScope,
    pub admin: portal_domain::ids::UserId,
    /// An invoice of the large company with credit notes and events.
    pub original: InvoiceId,
    pub customer: CustomerId,
    pub sample_number: String,
    pub token: String,
    pub endpoint: uuid::Uuid,
    pub firm_admin: portal_persistence::users::User,
}

async fn company(
    test: &TestDatabase,
    slug: &str,
    siren: &str,
) -> (TenantScope, portal_domain::ids::UserId) {
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let tenant = tenants
        .create(
            NewTenant {
                slug: slug.into(),
                legal_name: slug.to_uppercase(),
                siren: siren.into(),
                vat_number: None,
                ..Default::default()
            },
            None,
        )
        .await
        .expect("a company");
    let user = users
        .create(&format!("admin@{slug}.fr"), "Admin", "fr")
        .await
        .expect("a user");
    tenants
        .add_member(tenant.id, user.id, TenantRole::Admin)
        .await
        .expect("a membership");
    let scope = tenants
        .scope_for_member(user.id, slug)
        .await
        .expect("the scope")
        .expect("a member")
        .1;
    (scope, user.id)
}

fn status(code: u16, source: Source, at: DateTime<Utc>, key: String) -> StatusEvent {
    StatusEvent::status(StatusCode(code), source, at, key)
}

/// `count` invoices of `scope` over the last years: most delivered or approved, some disputed or suspended
/// (open requests), some refused (needing action), some drafts; two events each on average.
async fn seed(
    test: &TestDatabase,
    scope: &TenantScope,
    count: usize,
    prefix: &str,
) -> Vec<CustomerId> {
    let customers: Vec<SeedCustomer> = (0..(count / 10).max(2))
        .map(|n| SeedCustomer {
            id: CustomerId::new(),
            buyer: BuyerDraft {
                legal_name: format!("Client {prefix} {n:05}"),
                siren: format!("{:09}", 100_000_000 + n),
                ..BuyerDraft::default()
            },
        })
        .collect();
    insert_customers(&test.db, scope, &customers)
        .await
        .expect("customers");
    let start = Utc::now() - Duration::days(3 * 365);
    let invoices: Vec<SeedInvoice> = (0..count)
        .map(|n| {
            let created = start + Duration::minutes(i64::try_from(n).unwrap_or(0) * 40);
            let at = |step: i64| created + Duration::hours(step);
            let key = |code: u16| format!("{prefix}-{n}-{code}");
            let draft = n % 20 == 19;
            let events = if draft {
                Vec::new()
            } else {
                let mut events = vec![status(200, Source::SellerPlatform, at(1), key(200))];
                match n % 10 {
                    0 => events.push(
                        status(207, Source::Buyer, at(2), key(207)).with_reasons(["TX_TVA_ERR"]),
                    ),
                    1 => events.push(status(208, Source::Buyer, at(2), key(208))),
                    2 => events.push(
                        status(210, Source::Buyer, at(2), key(210)).with_reasons(["CONTRAT_TERM"]),
                    ),
                    3..=5 => events.push(status(205, Source::Buyer, at(2), key(205))),
                    _ => events.push(status(203, Source::BuyerPlatform, at(2), key(203))),
                }
                events
            };
            let cents = i64::try_from(n % 997).unwrap_or(0) * 1_000 + 1_200;
            SeedInvoice {
                id: InvoiceId::new(),
                content: InvoiceContent {
                    customer_id: Some(customers[n % customers.len()].id),
                    draft: InvoiceDraft {
                        number: if draft {
                            String::new()
                        } else {
                            format!("{prefix}{}-{n:06}", created.year())
                        },
                        issue_date: Some(created.date_naive()),
                        due_date: Some(created.date_naive() + Duration::days(30)),
                        buyer: customers[n % customers.len()].buyer.clone(),
                        ..InvoiceDraft::default()
                    },
                    totals: TotalsCents {
                        excl: cents * 5 / 6,
                        vat: cents - cents * 5 / 6,
                        incl: cents,
                    },
                },
                state: if draft {
                    SubmissionState::Draft
                } else {
                    SubmissionState::Sent
                },
                order_id: (!draft).then(|| i64::try_from(n).unwrap_or(0) + 10_000),
                events,
                created_at: created,
            }
        })
        .collect();
    for chunk in invoices.chunks(1_000) {
        insert_invoices(&test.db, scope, chunk)
            .await
            .expect("invoices");
    }
    customers.into_iter().map(|customer| customer.id).collect()
}

pub async fn world() -> World {
    let test = fresh().await;
    let (small, _) = company(&test, "small", "732829320").await;
    let (large, admin) = company(&test, "large", "443061841").await;
    seed(&test, &small, 5, "S").await;
    let customers = seed(&test, &large, LARGE, "L").await;
    let invoices = InvoiceRepository::new(test.db.clone());
    // An original with two credit notes (the related documents of its page).
    let sent = invoices
        .list(
            &large,
            &InvoiceFilter {
                submission: Some(SubmissionState::Sent),
                ..InvoiceFilter::default()
            },
            None,
            1,
        )
        .await
        .expect("a sent invoice");
    let original = sent.rows[0].id;
    let sample_number = sent.rows[0].number.clone();
    for n in 0..2 {
        invoices
            .create_linked_draft(
                &large,
                &InvoiceContent {
                    customer_id: None,
                    draft: InvoiceDraft {
                        number: format!("AV-{n}"),
                        document_type: DocumentType::CreditNote,
                        ..InvoiceDraft::default()
                    },
                    totals: TotalsCents {
                        excl: 100,
                        vat: 20,
                        incl: 120,
                    },
                },
                None,
                Some(original),
                |_| None,
            )
            .await
            .expect("a credit note");
    }
    // Most of a company's history is paid: the unpaid and overdue look-ups read what remains.
    test.db
        .execute_unprepared(
            "UPDATE invoices SET payment = 'paid', is_final = true \
             WHERE needs_action = false AND submission_state = 'sent'",
        )
        .await
        .expect("paid invoices");
    // The job queue's history: thousands done, a few due.
    let queue = JobQueue::new(test.db.clone());
    queue
        .enqueue_all(
            (0..LARGE)
                .map(|n| NewJob::for_tenant(&large, "plans.test", serde_json::json!({ "n": n })))
                .collect(),
        )
        .await
        .expect("jobs");
    test.db
        .execute_unprepared(
            "UPDATE jobs SET state = 'done', finished_at_ms = created_at_ms \
             WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT 2990)",
        )
        .await
        .expect("finished jobs");
    let (_, token) = ApiRepository::new(test.db.clone())
        .create_token(&large, "plans", TokenScope::Read, admin, None)
        .await
        .expect("a token");
    let endpoint = OutgoingWebhookRepository::new(test.db.clone())
        .create(
            &large,
            "https://example.com/hook",
            &["invoice.status".to_owned()],
            "secret".to_owned(),
            None,
        )
        .await
        .expect("an endpoint")
        .id;
    let users = UserRepository::new(test.db.clone());
    users
        .upsert_firm_admin("cabinet@firm.fr", "Cabinet", "hash", |_| None)
        .await
        .expect("a firm administrator");
    let firm_admin = users
        .find_by_email("cabinet@firm.fr")
        .await
        .expect("the firm administrator")
        .expect("the firm administrator");
    test.db
        .execute_unprepared("ANALYZE")
        .await
        .expect("ANALYZE");
    World {
        test,
        small,
        large,
        admin,
        original,
        customer: customers[0],
        sample_number,
        token,
        endpoint,
        firm_admin,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The table: one line per query.
// ---------------------------------------------------------------------------------------------------------------

/// Runs every line of the table against `world` and returns what was found.
pub async fn run(world: &World) -> Plans {
    let db = &world.test.db;
    let mut plans = Plans::new(db).await;
    let rec = Recorder::new(db);
    let scope = &world.large;
    let invoices = InvoiceRepository::new(rec.db.clone());

    // ---- the invoice list ----
    let first = invoices
        .list(scope, &InvoiceFilter::default(), None, 50)
        .await
        .expect("list");
    plans
        .check("invoice list, first page", rec.take(), Allow::Nothing)
        .await;
    let next = first.next.expect("a second page");
    invoices
        .list(scope, &InvoiceFilter::default(), Some(next), 50)
        .await
        .expect("list");
    plans
        .check(
            "invoice list, next page (keyset)",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    let filters: [(&str, InvoiceFilter); 7] = [
        (
            "invoice list, status chip 207",
            InvoiceFilter {
                headline: Some(207),
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, not sent yet",
            InvoiceFilter {
                headline: Some(0),
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, submission state",
            InvoiceFilter {
                submission: Some(SubmissionState::Draft),
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, needs action",
            InvoiceFilter {
                needs_action: true,
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, one customer",
            InvoiceFilter {
                customer: Some(world.customer),
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, largest first",
            InvoiceFilter {
                sort: InvoiceSort::TotalDesc,
                ..InvoiceFilter::default()
            },
        ),
        (
            "invoice list, oldest first",
            InvoiceFilter {
                sort: InvoiceSort::Oldest,
                ..InvoiceFilter::default()
            },
        ),
    ];
    for (name, filter) in filters {
        // PostgreSQL does not take `headline_code IS NULL` for an equality that fixes the column's place in the
        // index order, so it sorts the invoices not sent yet: drafts and failures, what waits to be sent.
        let allow = if filter.headline == Some(0) {
            Allow::Sort {
                why: "the invoices not sent yet (drafts, failures) are what waits, not the company's history",
            }
        } else {
            Allow::Nothing
        };
        let page = invoices.list(scope, &filter, None, 50).await.expect("list");
        plans.check(name, rec.take(), allow).await;
        if let Some(next) = page.next {
            invoices
                .list(scope, &filter, Some(next), 50)
                .await
                .expect("list");
            plans
                .check(&format!("{name}, next page"), rec.take(), allow)
                .await;
        }
    }
    // The list's search has its plans checked in `search.rs` (`a_rare_word_is_looked_up_in_the_search_index_…`,
    // both backends): its statements differ only by the index they must start from, which a line here cannot say.

    // The status chips read the company's few kept rows of `invoice_counts` (migration 000021).
    invoices.counts(scope).await.expect("counts");
    plans
        .check(
            "status chips (counts per status)",
            rec.take(),
            Allow::Nothing,
        )
        .await;

    // ---- the dashboard ----
    invoices.needs_action(scope, 5).await.expect("needs action");
    plans
        .check(
            "dashboard, what needs the supplier",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    // The small company has fewer open requests than the queue shows: the second range (refusals, rejections,
    // failures) is read too.
    invoices
        .needs_action(&world.small, 5)
        .await
        .expect("needs action");
    plans
        .check(
            "dashboard, what needs the supplier beyond the open requests",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    invoices.recent_events(scope, 10).await.expect("recent");
    plans
        .check("dashboard, latest statuses", rec.take(), Allow::Nothing)
        .await;

    // ---- an invoice's page ----
    invoices
        .get(scope, world.original)
        .await
        .expect("get")
        .expect("the original");
    plans
        .check("invoice page, the invoice", rec.take(), Allow::Nothing)
        .await;
    // The list's live updates: one invoice's row, the list's columns by its primary key.
    invoices
        .row(scope, world.original)
        .await
        .expect("row")
        .expect("the original's row");
    plans
        .check("invoice list, one live row", rec.take(), Allow::Nothing)
        .await;
    invoices
        .events(scope, world.original)
        .await
        .expect("events");
    plans
        .check(
            "invoice page, events (timeline)",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    let related = invoices
        .related_documents(scope, world.original)
        .await
        .expect("related");
    assert_eq!(related.len(), 2, "the original's two credit notes");
    plans
        .check(
            "invoice page, related documents",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    invoices
        .credited_cents(scope, world.original, None)
        .await
        .expect("credited");
    plans
        .check("invoice page, credited so far", rec.take(), Allow::Nothing)
        .await;

    // ---- find by number ----
    invoices
        .find_by_number(scope, &world.sample_number)
        .await
        .expect("by number");
    plans
        .check("invoice by number", rec.take(), Allow::Nothing)
        .await;

    invoices
        .payment_acknowledgements(scope, world.original)
        .await
        .expect("acknowledgements");
    plans
        .check(
            "invoice page, payment acknowledgements",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    PaymentRepository::new(rec.db.clone())
        .list(scope, world.original)
        .await
        .expect("payments");
    plans
        .check("invoice page, payments", rec.take(), Allow::Nothing)
        .await;
    let answers = InvoiceEmailRepository::new(rec.db.clone());
    answers.list(scope, world.original).await.expect("answers");
    plans
        .check("invoice page, answers", rec.take(), Allow::Nothing)
        .await;
    answers
        .written_since(scope, world.admin, Utc::now() - Duration::hours(1))
        .await
        .expect("answer limits");
    plans
        .check(
            "invoice page, answers written this hour",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    let reminders = ReminderRepository::new(rec.db.clone());
    reminders
        .for_invoice(scope, world.original)
        .await
        .expect("reminders");
    plans
        .check("invoice page, reminders", rec.take(), Allow::Nothing)
        .await;

    // ---- reminders (moved from tests/db/reminders.rs: the look-up reads the unpaid partial index) ----
    let today = Utc::now().date_naive();
    reminders
        .candidates(scope, today, None, 50)
        .await
        .expect("candidates");
    plans
        .check("reminders, overdue look-up", rec.take(), Allow::Nothing)
        .await;
    reminders.list_due(scope, 100).await.expect("due");
    plans
        .check("reminders, due list", rec.take(), Allow::Nothing)
        .await;

    // ---- CSV exports (a page at a time, by keyset) ----
    invoices
        .list(scope, &InvoiceFilter::default(), None, 500)
        .await
        .expect("export");
    plans
        .check("CSV export of invoices, a page", rec.take(), Allow::Nothing)
        .await;
    let now = Utc::now();
    let periods = invoices
        .events_between(scope, now - Duration::days(400), now, None, 500)
        .await
        .expect("export");
    plans
        .check(
            "CSV export of a period's events, a page",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    if let Some(last) = periods.last() {
        invoices
            .events_between(
                scope,
                now - Duration::days(400),
                now,
                Some((last.event.at, last.id)),
                500,
            )
            .await
            .expect("export");
        plans
            .check(
                "CSV export of a period's events, next page",
                rec.take(),
                Allow::Nothing,
            )
            .await;
    }

    // ---- customers ----
    let customers = CustomerRepository::new(rec.db.clone());
    customers.list(scope, None, 50).await.expect("customers");
    plans
        .check("customer list", rec.take(), Allow::Nothing)
        .await;
    customers
        .get(scope, world.customer)
        .await
        .expect("customer")
        .expect("the customer");
    plans
        .check("customer page", rec.take(), Allow::Nothing)
        .await;
    customers
        .invoice_count(scope, world.customer)
        .await
        .expect("count");
    plans
        .check(
            "customer page, its invoices counted",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    invoices
        .list(
            scope,
            &InvoiceFilter {
                customer: Some(world.customer),
                ..InvoiceFilter::default()
            },
            None,
            20,
        )
        .await
        .expect("its invoices");
    plans
        .check("customer page, its invoices", rec.take(), Allow::Nothing)
        .await;
    DirectoryCheckRepository::new(rec.db.clone())
        .get(scope, world.customer)
        .await
        .expect("directory");
    plans
        .check("customer page, directory check", rec.take(), Allow::Nothing)
        .await;

    // ---- the API ----
    let api = ApiRepository::new(rec.db.clone());
    api.authenticate(&world.token).await.expect("token");
    plans
        .check("API token by hash", rec.take(), Allow::Nothing)
        .await;
    // The first use takes the key (an insert); the second reads what became of it.
    for _ in 0..2 {
        api.begin_idempotent(scope, "plans-key", "POST /api/v1/invoices")
            .await
            .expect("idempotency");
    }
    plans
        .check("API idempotency key", rec.take(), Allow::Nothing)
        .await;
    let feed = api.feed(scope, None, 100).await.expect("feed");
    plans
        .check("API events feed", rec.take(), Allow::Nothing)
        .await;
    if let Some(last) = feed.last() {
        api.feed(
            scope,
            Some(FeedCursor {
                received_at: last.received_at,
                id: last.id,
            }),
            100,
        )
        .await
        .expect("feed");
        plans
            .check("API events feed, next page", rec.take(), Allow::Nothing)
            .await;
    }
    let page = api
        .customers_page(scope, None, None, 100)
        .await
        .expect("customers");
    plans
        .check("API customers", rec.take(), Allow::Nothing)
        .await;
    if let Some(last) = page.last() {
        api.customers_page(scope, None, Some(last.id), 100)
            .await
            .expect("customers");
        plans
            .check("API customers, next page", rec.take(), Allow::Nothing)
            .await;
    }

    // ---- outgoing webhooks ----
    let hooks = OutgoingWebhookRepository::new(rec.db.clone());
    hooks.list(scope).await.expect("endpoints");
    plans
        .check("outgoing webhooks, endpoints", rec.take(), Allow::Nothing)
        .await;
    hooks
        .messages(scope, world.endpoint, 50)
        .await
        .expect("messages");
    plans
        .check("outgoing webhooks, messages", rec.take(), Allow::Nothing)
        .await;
    hooks
        .attempts(scope, world.endpoint, 50)
        .await
        .expect("attempts");
    plans
        .check("outgoing webhooks, attempts", rec.take(), Allow::Nothing)
        .await;

    // ---- sign-in throttle ----
    LoginThrottle::new(rec.db.clone(), ThrottlePolicy::default())
        .purge_stale(Utc::now())
        .await
        .expect("purge");
    plans
        .check("sign-in throttle purge", rec.take(), Allow::Nothing)
        .await;

    // ---- the job queue ----
    JobQueue::new(rec.db.clone())
        .claim("plans", std::time::Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("a due job");
    plans
        .check(
            "job claim",
            rec.take(),
            Allow::Sort {
                why: "sorts the due jobs only (queued and due, or with an expired lease), never the done ones",
            },
        )
        .await;
    // The workers' claim: the next due job and the due jobs of its kind behind it, in one statement.
    let batch = JobQueue::new(rec.db.clone())
        .claim_batch(
            "plans",
            std::time::Duration::from_secs(60),
            &["plans.test"],
            50,
        )
        .await
        .expect("batch claim");
    assert!(batch.len() > 1, "a batch of due jobs");
    plans
        .check(
            "job claim, a batch",
            rec.take(),
            Allow::Sort {
                why: "sorts the due jobs only (queued and due, or with an expired lease), never the done ones",
            },
        )
        .await;

    // ---- statuses in: a batch of webhook deliveries written together (`StatusBatch`) ----
    // Its invoices locked and read, their events read, the new ones appended and the folds saved, by primary key
    // or the events' (company, invoice) index, never over the company's history. Planned once the batch is rolled
    // back (the world stays as seeded).
    let some: Vec<InvoiceId> = first.rows.iter().take(3).map(|row| row.id).collect();
    let batch = invoices.begin_batch().await.expect("a batch");
    let mut passes = batch
        .lock_invoices(scope, &some)
        .await
        .expect("the batch's invoices");
    assert_eq!(passes.len(), some.len(), "every invoice of the batch read");
    let read = rec.take();
    let mut work: Vec<_> = passes
        .iter_mut()
        .map(|pass| {
            let key = format!("plans-batch-{}", pass.record().id);
            (pass, vec![status(212, Source::Supplier, Utc::now(), key)])
        })
        .collect();
    batch
        .append_events(scope, &mut work, "webhook")
        .await
        .expect("the batch's events");
    drop(work);
    let mut states: Vec<_> = passes.iter_mut().collect();
    batch
        .refold_all(scope, &mut states)
        .await
        .expect("the batch's folds");
    let folded = rec.take();
    batch.rollback().await.expect("rollback");
    rec.take();
    plans
        .check(
            "status batch, the invoices and their events",
            read,
            Allow::Nothing,
        )
        .await;
    plans
        .check("status batch, the folds saved", folded, Allow::Nothing)
        .await;

    // ---- the firm ----
    let firm = FirmRepository::new(rec.db.clone());
    let scopes: Vec<TenantScope> = firm
        .visible_scopes(&world.firm_admin)
        .await
        .expect("scopes")
        .into_iter()
        .map(|(_, scope)| scope)
        .collect();
    assert_eq!(scopes.len(), 2);
    plans
        .check("firm, visible scopes", rec.take(), Allow::Nothing)
        .await;
    let console = FirmConsoleRepository::new(rec.db.clone());
    console
        .company_health(&scopes, now, today)
        .await
        .expect("health");
    plans
        .check(
            "firm console, company health",
            rec.take(),
            Allow::Walk {
                table: "webhook_deliveries",
                why: "MAX(received_at) is the last entry of (tenant_id, received_at): one row per company",
            },
        )
        .await;
    console.open_request_ages(&scopes, now).await.expect("ages");
    plans
        .check(
            "firm pictures, open requests by age",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    console.status_groups(&scopes).await.expect("groups");
    plans
        .check(
            "firm pictures, invoices per status",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    console.amounts_due(&scopes, today).await.expect("due");
    plans
        .check("firm pictures, due and overdue", rec.take(), Allow::Nothing)
        .await;
    console
        .sent_between(&scopes, &[now - Duration::days(365), now])
        .await
        .expect("sent");
    plans
        .check("firm pictures, sent per month", rec.take(), Allow::Nothing)
        .await;
    let months: Vec<String> = (0..12)
        .map(|back| {
            (now - Duration::days(30 * back))
                .format("%Y-%m")
                .to_string()
        })
        .rev()
        .collect();
    console
        .sent_per_month(&scopes, &months)
        .await
        .expect("sent per month, kept");
    plans
        .check(
            "firm pictures, sent per month (kept counts)",
            rec.take(),
            Allow::Nothing,
        )
        .await;
    let inbox = InboxQuery {
        kinds: Vec::new(),
        since_from: None,
        since_until: None,
        silent_before: now - Duration::days(100),
        after: None,
        limit: 50,
    };
    firm_inbox::page(&rec.db, &scopes, &inbox)
        .await
        .expect("inbox");
    plans
        .check(
            "firm inbox, a page",
            rec.take(),
            Allow::Sort {
                why: "sorts what waits (open requests, refusals, failures), never the companies' other invoices",
            },
        )
        .await;
    firm_inbox::counts(&rec.db, &scopes, &inbox)
        .await
        .expect("inbox counts");
    plans
        .check(
            "firm inbox, counts per kind",
            rec.take(),
            Allow::Sort {
                why: "groups what waits by kind (its sub-queries have a LIMIT, the statement none)",
            },
        )
        .await;

    // The indexes these queries were built for (the assertions of the EXPLAIN checks that lived in
    // tests/db/firm.rs, firm_console.rs and reminders.rs). Two names changed with migration 000020, whose indexes
    // the planner now prefers for the same arms, each still led by tenant_id: failed submissions are counted and
    // listed through `idx_invoices_tenant_state_id` (was `idx_invoices_tenant_state`, which still serves the
    // "silent" arm), and the inbox's needs-action arm reads `idx_invoices_tenant_action_since` (was
    // `idx_invoices_tenant_action`).
    plans.expect_indexes(
        "reminders, overdue look-up",
        &["idx_invoices_tenant_unpaid_due"],
        &["idx_invoices_tenant_unpaid_due"],
    );
    plans.expect_indexes(
        "reminders, due list",
        &["idx_reminders_tenant_state_due"],
        &["idx_reminders_tenant_state_due"],
    );
    plans.expect_indexes(
        "firm console, company health",
        // Sent this month and failures come from the counts kept per company (migration 000021). With this test's
        // two companies SQLite reads the whole `invoice_counts` (a dozen rows) rather than its key: what matters
        // here is that no invoice is read; PostgreSQL's plan names the key.
        &[
            "sqlite_autoindex_invoice_sent_months_1",
            "idx_invoices_open_requests",
            "idx_webhook_deliveries_tenant",
        ],
        &[
            "invoice_sent_months_pkey",
            "idx_invoices_open_requests",
            "idx_webhook_deliveries_tenant",
            "invoice_counts_pkey",
        ],
    );
    // Migration 000026: the inbox's statuses arm reads `idx_invoices_waiting` alone on SQLite (every column it
    // orders and counts by; PostgreSQL, given this test's few rows, prefers a bitmap of the kept counts' index,
    // the same rows), and the silent arm the partial `idx_invoices_in_flight` (it read every sent, not final
    // invoice through `idx_invoices_tenant_state`).
    plans.expect_indexes(
        "firm inbox, a page",
        &[
            "idx_invoices_waiting",
            "idx_invoices_tenant_state_id",
            "idx_invoices_in_flight",
            "idx_payments_tenant_state",
            "idx_outbox_tenant_status",
        ],
        &["idx_invoices_in_flight"],
    );
    plans.expect_indexes(
        "firm inbox, counts per kind",
        &["idx_invoices_waiting", "idx_invoices_in_flight"],
        &["idx_invoices_in_flight"],
    );
    // And the indexes of #15 (migration 000020), by name.
    plans.expect_indexes(
        "invoice page, related documents",
        &["idx_invoices_related_documents"],
        &["idx_invoices_related_documents"],
    );
    plans.expect_indexes(
        "invoice page, events (timeline)",
        &["idx_invoice_events_invoice_at"],
        &[],
    );
    plans.expect_indexes(
        "dashboard, what needs the supplier",
        &["idx_invoices_tenant_action_since"],
        &["idx_invoices_tenant_action_since"],
    );
    let _ = &world.small;
    plans
}

#[tokio::test]
async fn every_query_is_bounded_by_what_it_shows() {
    let world = world().await;
    let plans = run(&world).await;
    plans.assert_bounded();

    // The dashboard's queue, read as two index ranges, is still the one order: open requests oldest first,
    // then the others oldest invoice first.
    let invoices = InvoiceRepository::new(world.test.db.clone());
    let mut all = invoices
        .list(
            &world.large,
            &InvoiceFilter {
                needs_action: true,
                ..InvoiceFilter::default()
            },
            None,
            10_000,
        )
        .await
        .expect("every invoice that needs action")
        .rows;
    all.sort_by_key(|row| {
        let since = row.open_request.map(|(_, since)| since);
        (since.is_none(), since, row.id.as_uuid())
    });
    for limit in [5, 700] {
        let queue: Vec<_> = invoices
            .needs_action(&world.large, limit)
            .await
            .expect("the queue")
            .into_iter()
            .map(|row| row.id)
            .collect();
        let expected: Vec<_> = all.iter().take(limit as usize).map(|row| row.id).collect();
        assert_eq!(queue, expected, "the first {limit} that need the supplier");
    }

    // The keysets written as a range plus a tie-break still give every row once, in order, across pages
    // (totals repeat in the seed, and events share their times).
    for sort in [InvoiceSort::TotalDesc, InvoiceSort::TotalAsc] {
        let filter = InvoiceFilter {
            sort,
            ..InvoiceFilter::default()
        };
        let whole: Vec<_> = invoices
            .list(&world.large, &filter, None, 10_000)
            .await
            .expect("the whole list")
            .rows
            .into_iter()
            .map(|row| row.id)
            .collect();
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = invoices
                .list(&world.large, &filter, after, 97)
                .await
                .expect("a page");
            paged.extend(page.rows.iter().map(|row| row.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(paged, whole, "{sort:?}, page by page");
    }
    let api = ApiRepository::new(world.test.db.clone());
    let whole: Vec<_> = api
        .feed(&world.large, None, 100_000)
        .await
        .expect("the whole feed")
        .into_iter()
        .map(|event| event.id)
        .collect();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = api.feed(&world.large, after, 333).await.expect("a page");
        let Some(last) = page.last() else { break };
        after = Some(FeedCursor {
            received_at: last.received_at,
            id: last.id,
        });
        paged.extend(page.iter().map(|event| event.id));
    }
    assert_eq!(paged, whole, "the feed, page by page");
    let now = Utc::now();
    let from = now - Duration::days(4 * 365);
    let whole: Vec<_> = invoices
        .events_between(&world.large, from, now, None, 100_000)
        .await
        .expect("the period")
        .into_iter()
        .map(|event| event.id)
        .collect();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = invoices
            .events_between(&world.large, from, now, after, 333)
            .await
            .expect("a page");
        let Some(last) = page.last() else { break };
        after = Some((last.event.at, last.id));
        paged.extend(page.iter().map(|event| event.id));
    }
    assert_eq!(paged, whole, "a period's events, page by page");
}

/// The test cannot rot into one that passes whatever the indexes: without the related-documents index, the
/// invoice page's query walks the company again, and the checker says so, naming the query.
#[tokio::test]
async fn a_dropped_index_is_reported_with_the_query_that_relied_on_it() {
    let world = world().await;
    world
        .test
        .db
        .execute_unprepared("DROP INDEX idx_invoices_related_documents")
        .await
        .expect("drop the index");
    let plans = run(&world).await;
    let found: Vec<&Finding> = plans
        .findings
        .iter()
        .filter(|finding| finding.query == "invoice page, related documents")
        .collect();
    assert!(
        found
            .iter()
            .any(|finding| finding.problems.iter().any(|problem| {
                problem.starts_with("reads all of one company's invoices")
                    || problem.starts_with("a full scan of invoices")
            })),
        "the related-documents query is reported: {:#?}",
        plans.findings
    );
    // What a developer sees (cargo test … -- --nocapture).
    for finding in found {
        println!("{finding}");
    }
}

/// What `portal dev seed` runs after its bulk load leaves the planner its statistics on both backends and, on
/// PostgreSQL, the new rows marked visible to all (the visibility map that index-only scans read instead of the
/// table; `ANALYZE` alone leaves it empty until an autovacuum that may be turned off).
#[tokio::test]
async fn after_a_seed_the_planner_has_statistics_and_postgresql_a_visibility_map() {
    let test = fresh().await;
    let (scope, _) = company(&test, "small", "732829320").await;
    seed(&test, &scope, 300, "S").await;
    portal_persistence::seed::refresh_statistics(&test.db)
        .await
        .expect("the statistics pass");
    let number = |sql| crate::number(&test.db, sql);
    match test.db.get_database_backend() {
        DbBackend::Postgres => {
            let visible = number(
                "SELECT relallvisible::bigint AS n FROM pg_class WHERE relname = 'invoices'",
            )
            .await;
            assert!(visible > 0, "invoices' pages marked all-visible: {visible}");
            let estimated =
                number("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'invoices'")
                    .await;
            assert_eq!(estimated, 300, "the planner's row estimate for invoices");
        }
        _ => {
            let stats =
                number("SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = 'invoices'").await;
            assert!(stats > 0, "sqlite_stat1 holds invoices' statistics");
        }
    }
}
