//! The firm's console: which companies firm staff may see ([`visible_companies`], the one list every firm-wide
//! page and chart starts from), and the exception inbox over them ([`inbox`], [`inbox_csv`]).

use crate::App;
use crate::i18n::Tr;
use chrono::{DateTime, Duration, Utc};
use portal_domain::Language;
use portal_domain::ids::UserId;
use portal_domain::status::{StatusCode, reason_label, requested_action_label};
use portal_persistence::firm_inbox::{self, InboxCursor, InboxItem, InboxKind, InboxQuery};
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::Tenant;
use portal_persistence::users::User;
use portal_persistence::{DbErr, TenantScope};
use std::collections::HashMap;
use uuid::Uuid;

/// Rows per page of the inbox.
pub const PAGE_SIZE: u64 = 50;
/// At most this many rows in one CSV export (the current view, every page of it).
pub const EXPORT_LIMIT: u64 = 10_000;
/// A company is "silent" when its invoices in flight have heard nothing from Billit for this long (no webhook
/// delivery and no poll brought a status).
pub const SILENT_AFTER_HOURS: i64 = 48;

/// A company firm staff may see, with the scope that proves it (firm administrators: every active company, as
/// its admin; firm accountants: their portfolio, with its role).
#[derive(Debug, Clone)]
pub struct VisibleCompany {
    pub tenant: Tenant,
    pub scope: TenantScope,
}

impl VisibleCompany {
    pub fn role(&self) -> TenantRole {
        self.scope.role()
    }
}

/// Every company `user` may see as the firm, by name, with its scope (two queries at most). Empty for anyone
/// who is not firm staff: firm-wide pages answer them 404.
pub async fn visible_companies(app: &App, user: &User) -> Result<Vec<VisibleCompany>, DbErr> {
    Ok(app
        .firm
        .visible_scopes(user)
        .await?
        .into_iter()
        .map(|(tenant, scope)| VisibleCompany { tenant, scope })
        .collect())
}

/// How long a row has waited, as the filter offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeBucket {
    /// 0 to 2 days.
    Days0To2,
    /// 3 to 7 days.
    Days3To7,
    /// 8 to 30 days.
    Days8To30,
    /// Over 30 days.
    Over30,
}

impl AgeBucket {
    pub const ALL: [Self; 4] = [
        Self::Days0To2,
        Self::Days3To7,
        Self::Days8To30,
        Self::Over30,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Days0To2 => "0-2",
            Self::Days3To7 => "3-7",
            Self::Days8To30 => "8-30",
            Self::Over30 => "30+",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|bucket| bucket.as_str() == text)
    }

    /// `[from, until)` of the waiting start, at `now`.
    fn bounds(self, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let days = |n: i64| now - Duration::days(n);
        match self {
            Self::Days0To2 => (Some(days(3)), None),
            Self::Days3To7 => (Some(days(8)), Some(days(3))),
            Self::Days8To30 => (Some(days(31)), Some(days(8))),
            Self::Over30 => (None, Some(days(31))),
        }
    }
}

/// What the person asked to see (from the page's query string, already parsed).
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// A company's slug.
    pub company: Option<String>,
    pub kind: Option<InboxKind>,
    pub age: Option<AgeBucket>,
    /// A firm accountant: only the companies of their portfolio.
    pub accountant: Option<UserId>,
    /// The page's cursor, as [`InboxPage::next`] gave it.
    pub after: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// Not firm staff, or a company or accountant outside what the person may see: the same 404.
    #[error("not found")]
    NotFound,
    #[error("the page link is damaged")]
    BadCursor,
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl crate::Failure for InboxError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            // A damaged page link is answered like an unknown page (the handler says it in words first).
            Self::NotFound | Self::BadCursor => crate::FailureKind::NotFound,
            Self::Database(_) => crate::FailureKind::Internal,
        }
    }
}

/// One row as people read it.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub kind: InboxKind,
    pub company_slug: String,
    pub company_name: String,
    pub invoice_id: Option<String>,
    pub number: Option<String>,
    pub buyer: Option<String>,
    /// "207 · En litige", or empty.
    pub status: String,
    pub code: Option<i32>,
    pub since: DateTime<Utc>,
    /// What the row is about (an invoice, payment, email or company): with `since`, the row's place in the list.
    pub item_id: Uuid,
    pub age_days: i64,
    /// The reasons in words (with their codes).
    pub reasons: Vec<String>,
    pub requested_action: Option<String>,
    /// What failed, in the words it came with.
    pub detail: Option<String>,
    /// For a request: answered by email, when and by whom.
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    /// What to do, in one sentence.
    pub todo: String,
}

impl InboxRow {
    pub fn answered(&self) -> bool {
        self.answered_at.is_some()
    }

    /// Where the row is dealt with: the invoice's page inside its company; for an email of no invoice, the
    /// company's sent emails; for a failing connection, the company's Billit settings; else the company.
    pub fn link(&self) -> String {
        let slug = &self.company_slug;
        match (&self.invoice_id, self.kind) {
            (Some(id), _) => format!("/t/{slug}/invoices/{id}"),
            (None, InboxKind::Email) => format!("/t/{slug}/settings/outbox"),
            (None, InboxKind::Connection) => format!("/t/{slug}/settings/billit"),
            (None, _) => format!("/t/{slug}"),
        }
    }
}

/// A page of the inbox with what the filters offer.
#[derive(Debug, Clone)]
pub struct InboxPage {
    pub rows: Vec<InboxRow>,
    /// How many rows of each kind (over the company, accountant and age filters, every kind), in the order of
    /// [`InboxKind::ALL`], zeros included.
    pub counts: Vec<(InboxKind, u64)>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    /// The companies the person may see (the company filter's choices).
    pub companies: Vec<VisibleCompany>,
    /// Firm accountants, for the accountant filter (firm administrators only; empty for an accountant).
    pub accountants: Vec<(UserId, String)>,
}

/// `<seconds>.<nanoseconds>_<id>`: the time exactly as stored. SQLite keeps a time's nanoseconds in its text, so a
/// cursor cut to microseconds would sort before its own row, and the row would come again on the next page.
fn cursor_text(item: &InboxItem) -> String {
    format!(
        "{}.{:09}_{}",
        item.since.timestamp(),
        item.since.timestamp_subsec_nanos(),
        item.item_id
    )
}

/// Reads a cursor of [`cursor_text`], or of its first form (`<microseconds>_<id>`, links made before).
fn parse_cursor(text: &str) -> Option<InboxCursor> {
    let (time, id) = text.split_once('_')?;
    let since = match time.split_once('.') {
        Some((seconds, nanos)) if nanos.len() == 9 => {
            DateTime::from_timestamp(seconds.parse().ok()?, nanos.parse().ok()?)?
        }
        Some(_) => return None,
        None => DateTime::from_timestamp_micros(time.parse().ok()?)?,
    };
    Some(InboxCursor {
        since,
        item_id: Uuid::parse_str(id).ok()?,
    })
}

/// The scopes the filter leaves, of the companies the person may see; `NotFound` for a company or accountant
/// outside them.
async fn scopes_for(
    app: &App,
    user: &User,
    companies: &[VisibleCompany],
    filter: &InboxFilter,
) -> Result<Vec<TenantScope>, InboxError> {
    let mut scopes: Vec<&VisibleCompany> = companies.iter().collect();
    if let Some(slug) = &filter.company {
        scopes.retain(|company| &company.tenant.slug == slug);
        if scopes.is_empty() {
            return Err(InboxError::NotFound);
        }
    }
    if let Some(accountant) = filter.accountant {
        // Only firm administrators see other people's portfolios; an accountant may filter on themself.
        if !(user.is_firm_admin || accountant == user.id)
            || !app.firm.is_accountant(accountant).await?
        {
            return Err(InboxError::NotFound);
        }
        let portfolio: Vec<_> = app
            .firm
            .portfolio(accountant)
            .await?
            .into_iter()
            .map(|(tenant, _)| tenant.id)
            .collect();
        scopes.retain(|company| portfolio.contains(&company.tenant.id));
    }
    Ok(scopes
        .into_iter()
        .map(|company| company.scope.clone())
        .collect())
}

fn query_of(
    filter: &InboxFilter,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<InboxQuery, InboxError> {
    let (since_from, since_until) = filter.age.map_or((None, None), |age| age.bounds(now));
    let after = match &filter.after {
        Some(text) => Some(parse_cursor(text).ok_or(InboxError::BadCursor)?),
        None => None,
    };
    Ok(InboxQuery {
        kinds: filter.kind.into_iter().collect(),
        since_from,
        since_until,
        silent_before: now - Duration::hours(SILENT_AFTER_HOURS),
        after,
        limit,
    })
}

/// One page of the exception inbox of `user` (firm staff), oldest first: the visible companies (two queries),
/// one query for the page and one for the counts per kind, whatever the number of companies.
pub async fn inbox(
    app: &App,
    user: &User,
    filter: &InboxFilter,
    now: DateTime<Utc>,
    lang: Language,
) -> Result<InboxPage, InboxError> {
    let companies = visible_companies(app, user).await?;
    if companies.is_empty() && !app.firm.is_staff(user).await? {
        return Err(InboxError::NotFound);
    }
    let scopes = scopes_for(app, user, &companies, filter).await?;
    let query = query_of(filter, now, PAGE_SIZE + 1)?;
    let mut items = firm_inbox::page(&app.db, &scopes, &query).await?;
    let next = if items.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX) {
        items.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
        items.last().map(cursor_text)
    } else {
        None
    };
    let found: HashMap<_, _> = firm_inbox::counts(&app.db, &scopes, &query)
        .await?
        .into_iter()
        .collect();
    let counts = InboxKind::ALL
        .into_iter()
        .map(|kind| (kind, found.get(&kind).copied().unwrap_or(0)))
        .collect();
    let accountants = if user.is_firm_admin {
        app.firm
            .accountants()
            .await?
            .into_iter()
            .filter(|accountant| accountant.active)
            .map(|accountant| (accountant.user.id, accountant.user.name))
            .collect()
    } else {
        Vec::new()
    };
    let rows = rows_of(items, &companies, now, lang);
    Ok(InboxPage {
        rows,
        counts,
        next,
        companies,
        accountants,
    })
}

fn rows_of(
    items: Vec<InboxItem>,
    companies: &[VisibleCompany],
    now: DateTime<Utc>,
    lang: Language,
) -> Vec<InboxRow> {
    let names: HashMap<_, _> = companies
        .iter()
        .map(|company| (company.tenant.id, &company.tenant))
        .collect();
    items
        .into_iter()
        .filter_map(|item| {
            let tenant = names.get(&item.tenant_id)?;
            Some(row_of(item, tenant, now, lang))
        })
        .collect()
}

fn row_of(item: InboxItem, tenant: &Tenant, now: DateTime<Utc>, lang: Language) -> InboxRow {
    let t = Tr::new(lang);
    let reasons: Vec<String> = item
        .reasons
        .as_deref()
        .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|code| format!("{} ({code})", reason_label(&code, lang)))
        .collect();
    let status = item
        .code
        .and_then(|code| u16::try_from(code).ok())
        .map(|code| format!("{code} · {}", StatusCode(code).label(lang)))
        .unwrap_or_default();
    let todo_key = match item.kind {
        InboxKind::Request if item.code == Some(207) => "firm.todo.dispute",
        InboxKind::Request => "firm.todo.suspended",
        InboxKind::Refused => "firm.todo.refused",
        InboxKind::Rejected => "firm.todo.rejected",
        InboxKind::TaxRejected => "firm.todo.tax",
        InboxKind::Submission if item.order_id.is_some() => "firm.todo.created_not_sent",
        InboxKind::Submission => "firm.todo.submission",
        InboxKind::Payment => "firm.todo.payment",
        InboxKind::Email => "firm.todo.email",
        InboxKind::Connection => "firm.todo.connection",
        InboxKind::Silent => "firm.todo.silent",
    };
    let stored = item
        .error
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty());
    let number = item.number.as_deref().unwrap_or_default();
    let detail = match item.kind {
        InboxKind::Silent => stored.map(|count| t.fill("firm.in_flight", &[("count", count)])),
        InboxKind::Submission => {
            stored.map(|stored| crate::invoicing::submit::failure_words(stored, number, t))
        }
        InboxKind::Payment => Some(crate::payments::report::failure_words(
            stored.unwrap_or("refused"),
            item.requested_action.as_deref(),
            t,
        )),
        InboxKind::Email => stored.map(|stored| crate::mailer::failure_sentence(stored, t)),
        // The recorded word in a sentence ("Billit refuse la clé d’API ou le PartyID").
        InboxKind::Connection => Some(t.fill(
            "firm.connection_failing",
            &[(
                "reason",
                t.get(crate::firm_console::error_key(stored.unwrap_or_default())),
            )],
        )),
        _ => None,
    };
    let requested_action = match item.kind {
        InboxKind::Payment => None,
        _ => item
            .requested_action
            .as_deref()
            .filter(|code| !code.trim().is_empty())
            .map(|code| format!("{} ({code})", requested_action_label(code, lang))),
    };
    InboxRow {
        kind: item.kind,
        company_slug: tenant.slug.clone(),
        company_name: tenant.legal_name.clone(),
        invoice_id: item.invoice_id.map(|id| id.to_string()),
        number: item.number,
        buyer: item.buyer,
        status,
        code: item.code,
        since: item.since,
        item_id: item.item_id,
        age_days: (now - item.since).num_days().max(0),
        reasons,
        requested_action,
        detail,
        answered_at: item.answered_at,
        answered_by: item.answered_by,
        todo: t.get(todo_key).to_owned(),
    }
}

/// The current view (every page of it, up to [`EXPORT_LIMIT`] rows) as CSV: UTF-8 with a BOM (so that a
/// spreadsheet opens the accents right), `;` between fields, one header line in the reader's language.
pub async fn inbox_csv(
    app: &App,
    user: &User,
    filter: &InboxFilter,
    now: DateTime<Utc>,
    lang: Language,
) -> Result<Vec<u8>, InboxError> {
    let companies = visible_companies(app, user).await?;
    if companies.is_empty() && !app.firm.is_staff(user).await? {
        return Err(InboxError::NotFound);
    }
    let scopes = scopes_for(app, user, &companies, filter).await?;
    let unpaged = InboxFilter {
        after: None,
        ..filter.clone()
    };
    let query = query_of(&unpaged, now, EXPORT_LIMIT)?;
    let items = firm_inbox::page(&app.db, &scopes, &query).await?;
    let rows = rows_of(items, &companies, now, lang);
    write_csv(&rows, &app.base_url, lang).map_err(|error| {
        InboxError::Database(DbErr::Custom(format!("writing the CSV export: {error}")))
    })
}

fn write_csv(rows: &[InboxRow], base_url: &str, lang: Language) -> Result<Vec<u8>, csv::Error> {
    let t = Tr::new(lang);
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(&mut out);
        writer.write_record([
            t.get("firm.col.company"),
            t.get("firm.col.kind"),
            t.get("firm.col.invoice"),
            t.get("firm.col.customer"),
            t.get("firm.col.status"),
            t.get("firm.col.since"),
            t.get("firm.col.age_days"),
            t.get("firm.col.reasons"),
            t.get("firm.col.requested_action"),
            t.get("firm.col.detail"),
            t.get("firm.col.answered"),
            t.get("firm.col.todo"),
            t.get("firm.col.link"),
        ])?;
        for row in rows {
            let link = format!("{base_url}{}", row.link());
            let answered = match (&row.answered_at, &row.answered_by) {
                (Some(at), by) => format!(
                    "{} {}",
                    crate::dates::date_time(*at, lang),
                    by.as_deref().unwrap_or_default()
                )
                .trim()
                .to_owned(),
                (None, _) => String::new(),
            };
            writer.write_record([
                row.company_name.as_str(),
                t.get(kind_key(row.kind)),
                row.number.as_deref().unwrap_or_default(),
                row.buyer.as_deref().unwrap_or_default(),
                row.status.as_str(),
                &crate::dates::date_time(row.since, lang),
                &row.age_days.to_string(),
                &row.reasons.join(", "),
                row.requested_action.as_deref().unwrap_or_default(),
                row.detail.as_deref().unwrap_or_default(),
                &answered,
                row.todo.as_str(),
                &link,
            ])?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// The catalogue key of a kind's name.
pub fn kind_key(kind: InboxKind) -> &'static str {
    match kind {
        InboxKind::Request => "firm.kind.request",
        InboxKind::Refused => "firm.kind.refused",
        InboxKind::Rejected => "firm.kind.rejected",
        InboxKind::TaxRejected => "firm.kind.tax",
        InboxKind::Submission => "firm.kind.submission",
        InboxKind::Payment => "firm.kind.payment",
        InboxKind::Email => "firm.kind.email",
        InboxKind::Connection => "firm.kind.connection",
        InboxKind::Silent => "firm.kind.silent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_they_wrote_and_refuse_garbage() {
        let item_id = Uuid::now_v7();
        let since = DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let text = format!("{}_{item_id}", since.timestamp_micros());
        assert_eq!(parse_cursor(&text), Some(InboxCursor { since, item_id }));
        for bad in ["", "x_y", "12", "12_not-a-uuid", "12.5_x", "1.x23456789_y"] {
            assert_eq!(parse_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_keep_the_nanoseconds_sqlite_stores() {
        let item = InboxItem {
            kind: InboxKind::Email,
            tenant_id: portal_domain::ids::TenantId::new(),
            invoice_id: None,
            number: None,
            buyer: None,
            code: None,
            since: DateTime::from_timestamp(1_780_000_000, 123_456_789).unwrap(),
            item_id: Uuid::now_v7(),
            reasons: None,
            requested_action: None,
            error: None,
            answered_at: None,
            answered_by: None,
            order_id: None,
        };
        assert_eq!(
            parse_cursor(&cursor_text(&item)),
            Some(InboxCursor {
                since: item.since,
                item_id: item.item_id
            })
        );
    }

    #[test]
    fn age_buckets_cut_at_whole_days() {
        let now = Utc::now();
        for bucket in AgeBucket::ALL {
            assert_eq!(AgeBucket::parse(bucket.as_str()), Some(bucket));
        }
        let (from, until) = AgeBucket::Days3To7.bounds(now);
        assert_eq!(from, Some(now - Duration::days(8)));
        assert_eq!(until, Some(now - Duration::days(3)));
    }
}
