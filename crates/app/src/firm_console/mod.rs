//! The firm's console across companies: each company's health and the figures behind the console's pictures.
//! Every function takes the scopes the person holds ([`visible_companies`] for a firm administrator: every
//! active company), so a firm accountant's portfolio is the same call with a shorter list.

pub mod onboarding;

use crate::App;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use portal_domain::ids::TenantId;
use portal_persistence::TenantScope;
use portal_persistence::billit_connections::BillitEnvironment;
use portal_persistence::firm_console::{AmountsDue, CompanyHealthRow, RequestAges};
use portal_persistence::tenants::Tenant;
use portal_persistence::users::User;
use std::collections::HashMap;
use uuid::Uuid;

/// The companies a person sees from the firm's console, with the scope minted for each.
pub async fn visible_companies(
    app: &App,
    user: &User,
) -> anyhow::Result<Vec<(Tenant, TenantScope)>> {
    Ok(app.firm.visible_scopes(user).await?)
}

/// Where a company's Billit connection stands, from what the portal last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// No connection was ever configured.
    NotConfigured,
    /// A connection without its API key or PartyID.
    Incomplete,
    /// Configured, but no call was recorded yet.
    NeverCalled,
    /// The last call succeeded.
    Working,
    /// The last call failed, for this reason (a catalogue word under `console.error.`).
    Failing { kind: String },
}

impl ConnectionState {
    /// The catalogue key of its words.
    pub fn key(&self) -> &'static str {
        match self {
            Self::NotConfigured => "console.connection.not_configured",
            Self::Incomplete => "console.connection.incomplete",
            Self::NeverCalled => "console.connection.never_called",
            Self::Working => "console.connection.working",
            Self::Failing { .. } => "console.connection.failing",
        }
    }

    /// Sorting weight: what needs someone first.
    fn urgency(&self) -> u8 {
        match self {
            Self::Failing { .. } => 4,
            Self::Incomplete => 3,
            Self::NotConfigured => 2,
            Self::NeverCalled => 1,
            Self::Working => 0,
        }
    }
}

/// The catalogue key of a recorded failure's kind (unknown words fall back to "unexpected").
pub fn error_key(kind: &str) -> &'static str {
    match kind {
        "credentials" => "console.error.credentials",
        "rate_limited" => "console.error.rate_limited",
        "server" => "console.error.server",
        "unreachable" => "console.error.unreachable",
        "refused" => "console.error.refused",
        "configuration" => "console.error.configuration",
        _ => "console.error.unexpected",
    }
}

/// One company's health, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyHealth {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub environment: Option<BillitEnvironment>,
    pub connection: ConnectionState,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub webhooks: usize,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub sent_this_month: i64,
    pub open_requests: i64,
    pub overdue_cents: i64,
    pub failures: i64,
}

impl From<CompanyHealthRow> for CompanyHealth {
    fn from(row: CompanyHealthRow) -> Self {
        let environment = row
            .environment
            .as_deref()
            .and_then(BillitEnvironment::parse);
        let connection = if row.environment.is_none() {
            ConnectionState::NotConfigured
        } else if !(row.has_api_key.unwrap_or(false) && row.party_id.is_some()) {
            ConnectionState::Incomplete
        } else {
            match (row.last_success_at, row.last_error_at) {
                (None, None) => ConnectionState::NeverCalled,
                (Some(success), Some(error)) if success >= error => ConnectionState::Working,
                (Some(_), None) => ConnectionState::Working,
                (_, Some(_)) => ConnectionState::Failing {
                    kind: row.last_error_kind.clone().unwrap_or_default(),
                },
            }
        };
        Self {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            webhooks: row.webhook_count(),
            slug: row.slug,
            name: row.legal_name,
            environment,
            connection,
            last_success_at: row.last_success_at,
            last_error_at: row.last_error_at,
            last_webhook_at: row.last_webhook_at,
            last_poll_at: row.last_poll_at,
            sent_this_month: row.sent_this_month,
            open_requests: row.open_requests,
            overdue_cents: row.overdue_cents,
            failures: row.failures,
        }
    }
}

/// The health page's columns a person may sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Connection,
    LastWebhook,
    LastPoll,
    Sent,
    Open,
    Overdue,
    Failures,
}

impl SortKey {
    pub const ALL: [Self; 8] = [
        Self::Name,
        Self::Connection,
        Self::LastWebhook,
        Self::LastPoll,
        Self::Sent,
        Self::Open,
        Self::Overdue,
        Self::Failures,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Connection => "connection",
            Self::LastWebhook => "webhook",
            Self::LastPoll => "poll",
            Self::Sent => "sent",
            Self::Open => "open",
            Self::Overdue => "overdue",
            Self::Failures => "failures",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|key| key.as_str() == text)
    }

    /// The direction a first click sorts in: names A→Z, everything else the most worrying first.
    pub fn natural_descending(self) -> bool {
        !matches!(self, Self::Name)
    }
}

/// The first instant of the month `at` falls in, in Paris.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&Paris);
    first_of_month(local.year(), local.month())
}

fn first_of_month(year: i32, month: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .and_then(|midnight| Paris.from_local_datetime(&midnight).earliest())
        .map_or(DateTime::<Utc>::MIN_UTC, |local| local.with_timezone(&Utc))
}

/// Every visible company's health, sorted by `sort` (then by name).
pub async fn company_health(
    app: &App,
    scopes: &[TenantScope],
    sort: SortKey,
    descending: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<CompanyHealth>> {
    let rows = app
        .firm_console
        .company_health(scopes, month_start(now), crate::dates::paris_date(now))
        .await?;
    let mut companies: Vec<CompanyHealth> = rows.into_iter().map(CompanyHealth::from).collect();
    sort_companies(&mut companies, sort, descending);
    Ok(companies)
}

fn sort_companies(companies: &mut [CompanyHealth], sort: SortKey, descending: bool) {
    companies.sort_by(|a, b| {
        let by_name = a.name.to_lowercase().cmp(&b.name.to_lowercase());
        let primary = match sort {
            SortKey::Name => by_name,
            SortKey::Connection => a.connection.urgency().cmp(&b.connection.urgency()),
            SortKey::LastWebhook => a.last_webhook_at.cmp(&b.last_webhook_at),
            SortKey::LastPoll => a.last_poll_at.cmp(&b.last_poll_at),
            SortKey::Sent => a.sent_this_month.cmp(&b.sent_this_month),
            SortKey::Open => a.open_requests.cmp(&b.open_requests),
            SortKey::Overdue => a.overdue_cents.cmp(&b.overdue_cents),
            SortKey::Failures => a.failures.cmp(&b.failures),
        };
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(by_name)
    });
}

// ---- the pictures ----

/// The headline groups of the "invoices per status" bars, in stacking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusBucket {
    /// Drafts, queued or being sent: not at Billit's network yet.
    NotSent,
    /// Sent, on its way or made available, no decision yet.
    InProgress,
    /// Approved, or paid.
    Approved,
    /// An open dispute or suspension (207, 208).
    Request,
    /// Refused, rejected, or a failed submission.
    Refused,
}

impl StatusBucket {
    pub const ALL: [Self; 5] = [
        Self::NotSent,
        Self::InProgress,
        Self::Approved,
        Self::Request,
        Self::Refused,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::NotSent => "console.bucket.not_sent",
            Self::InProgress => "console.bucket.in_progress",
            Self::Approved => "console.bucket.approved",
            Self::Request => "console.bucket.request",
            Self::Refused => "console.bucket.refused",
        }
    }

    fn of(headline: Option<i32>, submission_state: &str) -> Self {
        match headline {
            Some(205 | 206 | 211 | 212) => Self::Approved,
            Some(207 | 208) => Self::Request,
            Some(210 | 213 | 221 | 501 | 251) => Self::Refused,
            Some(_) => Self::InProgress,
            None if submission_state == "failed" => Self::Refused,
            None if submission_state == "sent" => Self::InProgress,
            None => Self::NotSent,
        }
    }
}

/// One company's figures for the pictures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyFigures<T> {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub figures: T,
}

/// Everything the pictures show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charts {
    /// Open requests by age (0–2 days, 3–7, 8–30, over 30), companies with any, the most first.
    pub request_ages: Vec<CompanyFigures<[i64; 4]>>,
    /// Invoices per status bucket ([`StatusBucket::ALL`]'s order), the 20 companies with the most invoices.
    pub statuses: Vec<CompanyFigures<[i64; 5]>>,
    /// Due (not yet overdue) and overdue, in cents, companies owed anything, the most overdue first.
    pub amounts: Vec<CompanyFigures<[i64; 2]>>,
    /// Invoices sent per month over the last 12 months (the oldest first), firm-wide: (first day, count).
    pub sent_per_month: Vec<(NaiveDate, i64)>,
}

pub const TOP_COMPANIES: usize = 20;

pub async fn charts(
    app: &App,
    companies: &[(Tenant, TenantScope)],
    now: DateTime<Utc>,
) -> anyhow::Result<Charts> {
    let scopes: Vec<TenantScope> = companies.iter().map(|(_, scope)| scope.clone()).collect();
    let names: HashMap<Uuid, (&str, &str)> = companies
        .iter()
        .map(|(tenant, _)| {
            (
                tenant.id.as_uuid(),
                (tenant.slug.as_str(), tenant.legal_name.as_str()),
            )
        })
        .collect();
    let figures = |id: Uuid| -> Option<(TenantId, String, String)> {
        let (slug, name) = names.get(&id)?;
        Some((
            TenantId::from_uuid(id),
            (*slug).to_owned(),
            (*name).to_owned(),
        ))
    };
    let console = &app.firm_console;

    let mut request_ages: Vec<CompanyFigures<[i64; 4]>> = console
        .open_request_ages(&scopes, now)
        .await?
        .into_iter()
        .filter_map(|ages: RequestAges| {
            let (tenant_id, slug, name) = figures(ages.tenant_id)?;
            Some(CompanyFigures {
                tenant_id,
                slug,
                name,
                figures: [ages.days_0_2, ages.days_3_7, ages.days_8_30, ages.over_30],
            })
        })
        .collect();
    request_ages.sort_by(|a, b| {
        b.figures
            .iter()
            .sum::<i64>()
            .cmp(&a.figures.iter().sum::<i64>())
            .then_with(|| a.name.cmp(&b.name))
    });
    request_ages.truncate(TOP_COMPANIES);

    let mut buckets: HashMap<Uuid, [i64; 5]> = HashMap::new();
    for group in console.status_groups(&scopes).await? {
        let bucket = StatusBucket::of(group.headline_code, &group.submission_state);
        let index = StatusBucket::ALL
            .iter()
            .position(|b| *b == bucket)
            .unwrap_or(0);
        buckets.entry(group.tenant_id).or_default()[index] += group.count;
    }
    let mut statuses: Vec<CompanyFigures<[i64; 5]>> = buckets
        .into_iter()
        .filter_map(|(id, counts)| {
            let (tenant_id, slug, name) = figures(id)?;
            Some(CompanyFigures {
                tenant_id,
                slug,
                name,
                figures: counts,
            })
        })
        .collect();
    statuses.sort_by(|a, b| {
        b.figures
            .iter()
            .sum::<i64>()
            .cmp(&a.figures.iter().sum::<i64>())
            .then_with(|| a.name.cmp(&b.name))
    });
    statuses.truncate(TOP_COMPANIES);

    let mut amounts: Vec<CompanyFigures<[i64; 2]>> = console
        .amounts_due(&scopes, crate::dates::paris_date(now))
        .await?
        .into_iter()
        .filter_map(|due: AmountsDue| {
            let (tenant_id, slug, name) = figures(due.tenant_id)?;
            Some(CompanyFigures {
                tenant_id,
                slug,
                name,
                figures: [
                    (due.due_cents - due.overdue_cents).max(0),
                    due.overdue_cents.max(0),
                ],
            })
        })
        .filter(|company| company.figures.iter().any(|amount| *amount > 0))
        .collect();
    amounts.sort_by(|a, b| {
        b.figures[1]
            .cmp(&a.figures[1])
            .then_with(|| b.figures[0].cmp(&a.figures[0]))
            .then_with(|| a.name.cmp(&b.name))
    });
    amounts.truncate(TOP_COMPANIES);

    // The kept monthly counts, keyed by Paris month: 12 rows per company at most.
    let months = last_months(now, 12);
    let keys: Vec<String> = months
        .iter()
        .map(|day| format!("{:04}-{:02}", day.year(), day.month()))
        .collect();
    let counts = console.sent_per_month(&scopes, &keys).await?;
    let sent_per_month = months.into_iter().zip(counts).collect();

    Ok(Charts {
        request_ages,
        statuses,
        amounts,
        sent_per_month,
    })
}

/// The first days of the `count` months ending with `now`'s (Paris), the oldest first.
fn last_months(now: DateTime<Utc>, count: u32) -> Vec<NaiveDate> {
    let local = now.with_timezone(&Paris);
    let Some(this_month) = NaiveDate::from_ymd_opt(local.year(), local.month(), 1) else {
        return Vec::new();
    };
    (0..count)
        .rev()
        .filter_map(|back| this_month.checked_sub_months(chrono::Months::new(back)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_with_the_current_one_in_paris_time() {
        // 31 December 23:30 UTC is already January in Paris.
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        let months = last_months(now, 12);
        assert_eq!(months.len(), 12);
        assert_eq!(months[11], NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(months[0], NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(
            month_start(now),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap()
        );
    }

    /// The kept monthly counts are keyed by a rule written without a time zone database (SQLite has none):
    /// it agrees with Paris time at every hour of a few years, around each month's start in particular.
    #[test]
    fn kept_months_agree_with_paris_time() {
        let mut at = Utc.with_ymd_and_hms(2025, 1, 1, 0, 30, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2029, 1, 1, 0, 0, 0).unwrap();
        while at < end {
            let local = at.with_timezone(&Paris);
            assert_eq!(
                portal_persistence::counts::paris_month(at),
                format!("{:04}-{:02}", local.year(), local.month()),
                "{at}"
            );
            at += chrono::Duration::hours(1);
        }
    }

    #[test]
    fn sorting_puts_the_most_worrying_first_then_names() {
        let company = |name: &str, open: i64| CompanyHealth {
            tenant_id: TenantId::new(),
            slug: name.to_lowercase(),
            name: name.to_owned(),
            environment: None,
            connection: ConnectionState::NotConfigured,
            last_success_at: None,
            last_error_at: None,
            webhooks: 0,
            last_webhook_at: None,
            last_poll_at: None,
            sent_this_month: 0,
            open_requests: open,
            overdue_cents: 0,
            failures: 0,
        };
        let mut companies = vec![company("b", 1), company("A", 5), company("c", 5)];
        sort_companies(&mut companies, SortKey::Open, true);
        let names: Vec<&str> = companies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "c", "b"]);
        sort_companies(&mut companies, SortKey::Name, false);
        let names: Vec<&str> = companies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "b", "c"]);
    }
}
