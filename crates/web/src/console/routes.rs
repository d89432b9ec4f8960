//! `/firm/companies` (every company's health, sortable by the query string) and `/firm/charts` (the pictures).

use super::svg;
use crate::errors::{WebError, respond};
use crate::extract::{CurrentUser, layout_for};
use crate::format;
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use portal_app::firm_console::{
    self, CompanyHealth, ConnectionState, SortKey, StatusBucket, error_key,
};
use portal_persistence::TenantScope;
use portal_persistence::billit_connections::BillitEnvironment;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/firm/companies", web::get().to(companies))
        .route("/firm/charts", web::get().to(charts));
}

#[derive(Deserialize)]
pub struct HealthQuery {
    sort: Option<String>,
    dir: Option<String>,
}

/// A sortable column's header: its link sorts by it (the other way round when it is the current one).
struct SortHeader {
    label: String,
    href: String,
    /// `aria-sort`'s value.
    aria_sort: &'static str,
    numeric: bool,
}

/// One company's line, in words.
struct HealthLine {
    name: String,
    slug: String,
    environment: String,
    connection: String,
    failing: bool,
    last_success: String,
    last_error: String,
    webhooks: String,
    last_webhook: String,
    last_poll: String,
    sent: i64,
    open: i64,
    overdue: String,
    failures: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/console/companies.html")]
struct CompaniesPage {
    layout: Layout,
    headers: Vec<SortHeader>,
    lines: Vec<HealthLine>,
}

fn when(at: Option<DateTime<Utc>>, t: Tr) -> String {
    at.map_or_else(
        || t.get("console.never").to_owned(),
        |at| format::date_time(at, t.lang),
    )
}

fn environment_words(environment: Option<BillitEnvironment>, t: Tr) -> String {
    match environment {
        None => "—".to_owned(),
        Some(BillitEnvironment::Production) => t.get("console.environment.production").to_owned(),
        Some(BillitEnvironment::Sandbox) => t.get("console.environment.sandbox").to_owned(),
        Some(BillitEnvironment::Embedded) => t.get("console.environment.embedded").to_owned(),
    }
}

fn line_of(company: CompanyHealth, t: Tr) -> HealthLine {
    let (connection, failing) = match &company.connection {
        ConnectionState::Failing { kind } => (
            t.fill(
                company.connection.key(),
                &[("reason", t.get(error_key(kind)))],
            ),
            true,
        ),
        other => (t.get(other.key()).to_owned(), false),
    };
    let webhooks = match company.webhooks {
        0 => t.get("console.webhooks_none").to_owned(),
        n => t.fill("console.webhooks_count", &[("count", &n.to_string())]),
    };
    HealthLine {
        environment: environment_words(company.environment, t),
        connection,
        failing,
        last_success: when(company.last_success_at, t),
        last_error: company
            .last_error_at
            .map_or_else(|| "—".to_owned(), |at| format::date_time(at, t.lang)),
        webhooks,
        last_webhook: when(company.last_webhook_at, t),
        last_poll: when(company.last_poll_at, t),
        sent: company.sent_this_month,
        open: company.open_requests,
        overdue: format::amount_cents(company.overdue_cents, "EUR", t.lang),
        failures: company.failures,
        name: company.name,
        slug: company.slug,
    }
}

fn headers(sort: SortKey, descending: bool, t: Tr) -> Vec<SortHeader> {
    SortKey::ALL
        .into_iter()
        .map(|key| {
            let current = key == sort;
            let next_descending = if current {
                !descending
            } else {
                key.natural_descending()
            };
            SortHeader {
                label: t
                    .get(&format!("console.column.{}", key.as_str()))
                    .to_owned(),
                href: format!(
                    "/firm/companies?sort={}&dir={}",
                    key.as_str(),
                    if next_descending { "desc" } else { "asc" }
                ),
                aria_sort: match (current, descending) {
                    (false, _) => "none",
                    (true, true) => "descending",
                    (true, false) => "ascending",
                },
                numeric: matches!(
                    key,
                    SortKey::Sent | SortKey::Open | SortKey::Overdue | SortKey::Failures
                ),
            }
        })
        .collect()
}

/// The companies firm staff may see (a firm administrator: all; a firm accountant: the portfolio); anyone else
/// gets 404, as for every firm page.
async fn visible(
    state: &AppState,
    user: &CurrentUser,
) -> Result<Vec<(portal_persistence::tenants::Tenant, TenantScope)>, WebError> {
    if !state.firm.is_staff(&user.user).await? {
        return Err(WebError::NotFound);
    }
    Ok(firm_console::visible_companies(&state.app, &user.user).await?)
}

pub async fn companies(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    query: web::Query<HealthQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &user, None).await?;
    let t = layout.t;
    let sort = query
        .sort
        .as_deref()
        .and_then(SortKey::parse)
        .unwrap_or_default();
    let descending = match query.dir.as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        _ => sort.natural_descending(),
    };
    let scopes: Vec<TenantScope> = visible(&state, &user)
        .await?
        .into_iter()
        .map(|(_, scope)| scope)
        .collect();
    let companies =
        firm_console::company_health(&state.app, &scopes, sort, descending, Utc::now()).await?;
    let page = CompaniesPage {
        headers: headers(sort, descending, t),
        lines: companies
            .into_iter()
            .map(|company| line_of(company, t))
            .collect(),
        layout,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

/// One picture and the table that says the same.
struct ChartView {
    id: &'static str,
    heading: String,
    svg: String,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/console/charts.html")]
struct ChartsPage {
    layout: Layout,
    charts: Vec<ChartView>,
}

fn stacked_view<const N: usize>(
    id: &'static str,
    heading: String,
    description: String,
    series: &[String],
    companies: &[firm_console::CompanyFigures<[i64; N]>],
    cell: &dyn Fn(i64) -> String,
    (company_word, total_word): (&str, &str),
) -> ChartView {
    let bars: Vec<(String, Vec<i64>)> = companies
        .iter()
        .map(|company| (company.name.clone(), company.figures.to_vec()))
        .collect();
    let mut head = vec![company_word.to_owned()];
    head.extend(series.iter().cloned());
    head.push(total_word.to_owned());
    let rows = companies
        .iter()
        .map(|company| {
            let mut row = vec![company.name.clone()];
            row.extend(company.figures.iter().map(|value| cell(*value)));
            row.push(cell(company.figures.iter().sum()));
            row
        })
        .collect();
    ChartView {
        id,
        svg: svg::stacked_bars(id, &heading, &description, series, &bars, cell),
        heading,
        head,
        rows,
    }
}

pub async fn charts(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &user, None).await?;
    let t = layout.t;
    let companies = visible(&state, &user).await?;
    let figures = firm_console::charts(&state.app, &companies, Utc::now()).await?;
    let company_word = t.get("console.chart.company");
    let total_word = t.get("console.chart.total");
    let count = |n: i64| n.to_string();
    let money = |cents: i64| format::amount_cents(cents, "EUR", t.lang);

    let ages: Vec<String> = ["0_2", "3_7", "8_30", "over_30"]
        .iter()
        .map(|bucket| t.get(&format!("console.age.{bucket}")).to_owned())
        .collect();
    let statuses: Vec<String> = StatusBucket::ALL
        .iter()
        .map(|bucket| t.get(bucket.key()).to_owned())
        .collect();
    let amounts = vec![
        t.get("console.amount.due").to_owned(),
        t.get("console.amount.overdue").to_owned(),
    ];
    let mut charts = vec![
        stacked_view(
            "chart-ages",
            t.get("console.chart.ages").to_owned(),
            t.get("console.chart.ages_desc").to_owned(),
            &ages,
            &figures.request_ages,
            &count,
            (company_word, total_word),
        ),
        stacked_view(
            "chart-statuses",
            t.get("console.chart.statuses").to_owned(),
            t.get("console.chart.statuses_desc").to_owned(),
            &statuses,
            &figures.statuses,
            &count,
            (company_word, total_word),
        ),
        stacked_view(
            "chart-amounts",
            t.get("console.chart.amounts").to_owned(),
            t.get("console.chart.amounts_desc").to_owned(),
            &amounts,
            &figures.amounts,
            &money,
            (company_word, total_word),
        ),
    ];
    let months: Vec<(String, i64)> = figures
        .sent_per_month
        .iter()
        .map(|(month, sent)| (month.format("%m/%y").to_string(), *sent))
        .collect();
    let heading = t.get("console.chart.sent").to_owned();
    charts.push(ChartView {
        id: "chart-sent",
        svg: svg::columns(
            "chart-sent",
            &heading,
            t.get("console.chart.sent_desc"),
            &months,
        ),
        heading,
        head: vec![
            t.get("console.chart.month").to_owned(),
            t.get("console.chart.sent_count").to_owned(),
        ],
        rows: months
            .iter()
            .map(|(month, sent)| vec![month.clone(), sent.to_string()])
            .collect(),
    });
    let page = ChartsPage { layout, charts };
    Ok(respond(&req, StatusCode::OK, page))
}
