//! The CSV exports: the invoice list with its current filters, and the timeline of a period (the status events
//! between two dates). UTF-8 with a BOM and `;`, amounts with a decimal comma in French, times in Paris time
//! (`portal_app::spreadsheet`). Rows are read in keyset pages and streamed, so memory is bounded by a page,
//! whatever the company's size.

use super::views::ListParams;
use crate::components::status::state_key;
use crate::errors::WebError;
use crate::extract::{TenantContext, layout_for};
use crate::i18n::Tr;
use crate::state::AppState;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use portal_app::App;
use portal_app::spreadsheet::{self, BOM};
use portal_domain::lifecycle::{EventKind, Payment};
use portal_persistence::TenantScope;
use portal_persistence::invoices::{Cursor, InvoiceFilter, InvoiceRow, PeriodEvent};
use serde::Deserialize;
use uuid::Uuid;

/// The exports' routes inside the company's scope (`/t/{slug}`, see `crate::routes`): fixed paths, configured
/// before `/invoices/{id}` would take them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/export.csv", web::get().to(invoices))
        .route("/invoices/timeline.csv", web::get().to(timeline));
}

/// Rows read per query.
const PAGE: u64 = 500;
/// The longest period a timeline export covers (a year and a day, so a calendar year fits with its bounds).
const MAX_PERIOD_DAYS: i64 = 367;

fn csv_response(
    file_name: &str,
    body: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .streaming(body)
}

fn bad_request(problems: &[String]) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((CONTENT_TYPE, "text/plain; charset=utf-8"))
        .body(problems.join("\n"))
}

fn header(t: Tr, keys: &[&str]) -> Vec<u8> {
    let mut out = BOM.to_vec();
    out.extend(spreadsheet::line(keys.iter().map(|key| t.get(key))));
    out
}

fn payment_key(payment: Payment) -> &'static str {
    match payment {
        Payment::Unpaid => "views.payment.unpaid",
        Payment::Partial => "views.payment.partial",
        Payment::Paid => "views.payment.paid",
    }
}

fn yes_no(value: bool, t: Tr) -> &'static str {
    t.get(if value { "csv.yes" } else { "csv.no" })
}

fn invoice_line(row: &InvoiceRow, t: Tr) -> Vec<u8> {
    let lang = t.lang;
    let date = |value: Option<chrono::NaiveDate>| {
        value
            .map(|day| portal_app::dates::date(day, lang))
            .unwrap_or_default()
    };
    spreadsheet::line([
        row.number.clone(),
        t.get(match row.document_type {
            portal_domain::invoice::DocumentType::CreditNote => "views.type.credit_note",
            _ => "csv.invoice",
        })
        .to_owned(),
        row.buyer_name.clone(),
        date(row.issue_date),
        date(row.due_date),
        spreadsheet::amount(row.total_incl_cents, lang),
        row.currency.clone(),
        row.headline
            .map(|code| code.0.to_string())
            .unwrap_or_default(),
        row.headline
            .map(|code| code.label(lang))
            .unwrap_or_default(),
        t.get(state_key(row.submission)).to_owned(),
        t.get(payment_key(row.payment)).to_owned(),
        yes_no(row.needs_action, t).to_owned(),
        row.action_reasons
            .iter()
            .map(|reason| reason.label(lang).to_owned())
            .collect::<Vec<_>>()
            .join(", "),
        row.last_event_at
            .map(|at| portal_app::dates::date_time_seconds(at, lang))
            .unwrap_or_default(),
    ])
}

/// A keyset walk through the list, one page per chunk of the body.
struct ListWalk {
    app: App,
    scope: TenantScope,
    filter: InvoiceFilter,
    after: Option<Cursor>,
    done: bool,
    t: Tr,
}

/// `GET /t/{slug}/invoices/export.csv?<the list's filters>`: every invoice the list shows with these filters (all
/// its pages), in the list's order.
pub async fn invoices(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let parsed = ListParams::from_query(req.query_string()).parse(t);
    if !parsed.problems.is_empty() {
        return Ok(bad_request(&parsed.problems));
    }
    let head = header(
        t,
        &[
            "views.col.number",
            "csv.col.type",
            "views.col.customer",
            "views.col.issue_date",
            "views.col.due_date",
            "views.col.total",
            "csv.col.currency",
            "csv.col.status_code",
            "views.col.status",
            "csv.col.submission",
            "views.col.payment",
            "views.col.action",
            "csv.col.reasons",
            "csv.col.last_event",
        ],
    );
    let walk = ListWalk {
        app: state.app.clone(),
        scope: ctx.scope.clone(),
        filter: parsed.filter,
        after: None,
        done: false,
        t,
    };
    let pages = futures_util::stream::unfold(walk, |mut walk| async move {
        if walk.done {
            return None;
        }
        match walk
            .app
            .invoices
            .list(&walk.scope, &walk.filter, walk.after.take(), PAGE)
            .await
        {
            Ok(page) => {
                let mut chunk = Vec::new();
                for row in &page.rows {
                    chunk.extend(invoice_line(row, walk.t));
                }
                walk.done = page.next.is_none();
                walk.after = page.next;
                Some((Ok(Bytes::from(chunk)), walk))
            }
            Err(error) => {
                tracing::error!(error = %error, "the invoice export stopped");
                walk.done = true;
                Some((Err(std::io::Error::other("the export stopped")), walk))
            }
        }
    });
    let body = futures_util::stream::StreamExt::chain(
        futures_util::stream::once(async move { Ok(Bytes::from(head)) }),
        pages,
    );
    let name = format!("factures-{}.csv", ctx.tenant.slug);
    Ok(csv_response(&name, body))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PeriodQuery {
    from: String,
    to: String,
}

fn event_line(row: &PeriodEvent, t: Tr) -> Vec<u8> {
    let lang = t.lang;
    let event = &row.event;
    let title = match (event.kind, event.code) {
        (EventKind::Status, Some(code)) => code.label(lang),
        (EventKind::Status, None) => t.get("csv.unclassified").to_owned(),
        _ => t.get("csv.informational").to_owned(),
    };
    spreadsheet::line([
        portal_app::dates::date_time_seconds(event.at, lang),
        event.number.clone(),
        event.buyer_name.clone(),
        event
            .code
            .map(|code| code.0.to_string())
            .unwrap_or_default(),
        title,
        event.source.as_str().to_owned(),
        row.reasons.join(", "),
        event.description.clone(),
    ])
}

struct EventWalk {
    app: App,
    scope: TenantScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    done: bool,
    t: Tr,
}

/// `GET /t/{slug}/invoices/timeline.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`: every status event of the company's
/// invoices from the first day to the last (both included, Paris days), by time.
pub async fn timeline(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let from = crate::forms::parse_date(&query.from);
    let to = crate::forms::parse_date(&query.to);
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) if from <= to && (to - from).num_days() < MAX_PERIOD_DAYS => {
            (from, to)
        }
        (Some(from), Some(to)) if from <= to => {
            return Ok(bad_request(&[t
                .get("csv.problem.period_too_long")
                .to_owned()]));
        }
        _ => return Ok(bad_request(&[t.get("csv.problem.period").to_owned()])),
    };
    let head = header(
        t,
        &[
            "csv.col.at",
            "views.col.number",
            "views.col.customer",
            "csv.col.status_code",
            "views.col.status",
            "csv.col.source",
            "csv.col.reasons",
            "csv.col.description",
        ],
    );
    let walk = EventWalk {
        app: state.app.clone(),
        scope: ctx.scope.clone(),
        from: spreadsheet::paris_midnight(from),
        to: spreadsheet::paris_midnight(to + chrono::Days::new(1)),
        after: None,
        done: false,
        t,
    };
    let pages = futures_util::stream::unfold(walk, |mut walk| async move {
        if walk.done {
            return None;
        }
        match walk
            .app
            .invoices
            .events_between(&walk.scope, walk.from, walk.to, walk.after, PAGE)
            .await
        {
            Ok(rows) => {
                let mut chunk = Vec::new();
                for row in &rows {
                    chunk.extend(event_line(row, walk.t));
                }
                walk.done = (rows.len() as u64) < PAGE;
                walk.after = rows.last().map(|row| (row.event.at, row.id));
                Some((Ok(Bytes::from(chunk)), walk))
            }
            Err(error) => {
                tracing::error!(error = %error, "the timeline export stopped");
                walk.done = true;
                Some((Err(std::io::Error::other("the export stopped")), walk))
            }
        }
    });
    let body = futures_util::stream::StreamExt::chain(
        futures_util::stream::once(async move { Ok(Bytes::from(head)) }),
        pages,
    );
    let name = format!("chronologie-{}-{from}-{to}.csv", ctx.tenant.slug);
    Ok(csv_response(&name, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    #[test]
    fn a_header_starts_with_the_bom() {
        let head = header(Tr::new(Language::Fr), &["views.col.number"]);
        assert!(head.starts_with(BOM));
    }
}
