//! `/firm`: the firm staff's home, the exception inbox over the companies they may see; its CSV export and its
//! live stream. Anyone who is not firm staff gets 404, and a company or accountant outside what the person may see
//! is the same 404.

use crate::errors::{WebError, error_page, respond};
use crate::extract::{CurrentUser, layout_for};
use crate::format::date_time;
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::{AppState, StreamSlot};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_app::firm::{self, AgeBucket, InboxError, InboxFilter, InboxRow};
use portal_app::live::LiveEvent;
use portal_domain::ids::{TenantId, UserId};
use portal_persistence::firm_inbox::InboxKind;
use serde::Deserialize;
use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, interval_at};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/firm", web::get().to(inbox))
        .route("/firm/export.csv", web::get().to(export))
        .route("/firm/live", web::get().to(live))
        .route("/firm/staff", web::get().to(super::staff::page))
        .route("/firm/staff/invite", web::post().to(super::staff::invite))
        .route(
            "/firm/staff/{user_id}/portfolio",
            web::post().to(super::staff::assign),
        )
        .route(
            "/firm/staff/{user_id}/portfolio/{tenant_id}/remove",
            web::post().to(super::staff::unassign),
        );
}

/// The inbox's filters as the query string carries them (every one optional; empty means "all").
#[derive(Debug, Default, Deserialize)]
pub struct InboxParams {
    company: Option<String>,
    kind: Option<String>,
    age: Option<String>,
    accountant: Option<String>,
    after: Option<String>,
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

impl InboxParams {
    /// The filter, or `None` for a value no form of ours sends (a 400 in words).
    fn filter(&self) -> Option<InboxFilter> {
        Some(InboxFilter {
            company: non_empty(&self.company).map(str::to_owned),
            kind: match non_empty(&self.kind) {
                Some(kind) => Some(InboxKind::parse(kind)?),
                None => None,
            },
            age: match non_empty(&self.age) {
                Some(age) => Some(AgeBucket::parse(age)?),
                None => None,
            },
            accountant: match non_empty(&self.accountant) {
                Some(id) => Some(UserId::parse(id)?),
                None => None,
            },
            after: non_empty(&self.after).map(str::to_owned),
        })
    }

    /// The query string of these filters (without the page cursor).
    fn query(&self) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("company", &self.company),
            ("kind", &self.kind),
            ("age", &self.age),
            ("accountant", &self.accountant),
        ] {
            if let Some(value) = non_empty(value) {
                pairs.append_pair(name, value);
            }
        }
        pairs.finish()
    }

    fn with(&self, name: &str, value: &str) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        let base = self.query();
        for (key, current) in form_urlencoded::parse(base.as_bytes()) {
            if key != name {
                pairs.append_pair(&key, &current);
            }
        }
        if !value.is_empty() {
            pairs.append_pair(name, value);
        }
        pairs.finish()
    }
}

/// One row as the page shows it.
struct RowView {
    /// The row's keyset (`since` to the microsecond, fixed width, so the text sorts as the time; the item's id).
    since_key: String,
    item: String,
    company: String,
    company_href: String,
    invoice_href: Option<String>,
    invoice_label: String,
    number: String,
    buyer: String,
    kind: &'static str,
    kind_label: String,
    status: String,
    since: String,
    age: String,
    reasons: String,
    requested_action: Option<String>,
    detail: Option<String>,
    /// For a request: "answered …" or "not answered".
    answer: Option<String>,
    answered: bool,
    todo: String,
}

fn row_view(row: InboxRow, t: Tr) -> RowView {
    let company_href = format!("/t/{}/", row.company_slug);
    let invoice_href = match (&row.invoice_id, row.kind) {
        (Some(_), _) | (None, InboxKind::Email | InboxKind::Connection) => Some(row.link()),
        (None, _) => None,
    };
    let number = row.number.clone().unwrap_or_default();
    let answer =
        (row.kind == InboxKind::Request).then(|| match (&row.answered_at, &row.answered_by) {
            (Some(at), Some(name)) => t.fill(
                "firm.answered_by",
                &[("at", &date_time(*at, t.lang)), ("name", name)],
            ),
            (Some(at), None) => t.fill("firm.answered_at", &[("at", &date_time(*at, t.lang))]),
            (None, _) => t.get("firm.not_answered").to_owned(),
        });
    RowView {
        since_key: row
            .since
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        item: row.item_id.to_string(),
        invoice_label: if row.kind == InboxKind::Connection {
            t.fill(
                "firm.open_billit_settings",
                &[("company", &row.company_name)],
            )
        } else if number.is_empty() {
            t.fill("firm.open_company", &[("company", &row.company_name)])
        } else {
            t.fill("firm.open_invoice", &[("number", &number)])
        },
        company: row.company_name.clone(),
        company_href,
        invoice_href,
        number,
        buyer: row.buyer.clone().unwrap_or_default(),
        kind: row.kind.as_str(),
        kind_label: t.get(firm::kind_key(row.kind)).to_owned(),
        status: row.status.clone(),
        since: date_time(row.since, t.lang),
        age: t.fill("firm.days", &[("days", &row.age_days.to_string())]),
        reasons: row.reasons.join(", "),
        requested_action: row.requested_action.clone(),
        detail: row.detail.clone(),
        answered: row.answered(),
        answer,
        todo: row.todo,
    }
}

/// A choice of a filter's `<select>`.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct CountView {
    label: String,
    count: u64,
    href: String,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/firm/inbox.html")]
struct InboxPage {
    layout: Layout,
    rows: Vec<RowView>,
    counts: Vec<CountView>,
    companies: Vec<Choice>,
    kinds: Vec<Choice>,
    ages: Vec<Choice>,
    accountants: Vec<Choice>,
    next_href: Option<String>,
    first_href: Option<String>,
    export_href: String,
    reset_href: String,
}

/// Firm staff only; anyone else signed in gets the 404 a page that does not exist would give.
async fn staff(state: &AppState, user: &CurrentUser) -> Result<(), WebError> {
    if state.firm.is_staff(&user.user).await? {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

fn bad_filter(t: Tr) -> HttpResponse {
    error_page(StatusCode::BAD_REQUEST, t.get("firm.bad_cursor"))
}

fn inbox_failure(error: InboxError, t: Tr) -> Result<HttpResponse, WebError> {
    match error {
        InboxError::BadCursor => Ok(bad_filter(t)),
        other => Err(WebError::from_failure(other)),
    }
}

/// `GET /firm`: the exception inbox.
pub async fn inbox(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    params: web::Query<InboxParams>,
) -> Result<HttpResponse, WebError> {
    staff(&state, &user).await?;
    let layout = layout_for(&state, &req, &user, None).await?;
    let t = layout.t;
    let Some(filter) = params.filter() else {
        return Ok(bad_filter(t));
    };
    let page = match firm::inbox(&state, &user.user, &filter, Utc::now(), t.lang).await {
        Ok(page) => page,
        Err(error) => return inbox_failure(error, t),
    };
    let selected = |value: &Option<String>, candidate: &str| non_empty(value) == Some(candidate);
    let companies = page
        .companies
        .iter()
        .map(|company| Choice {
            selected: selected(&params.company, &company.tenant.slug),
            value: company.tenant.slug.clone(),
            label: company.tenant.legal_name.clone(),
        })
        .collect();
    let kinds = InboxKind::ALL
        .into_iter()
        .map(|kind| Choice {
            value: kind.as_str().to_owned(),
            label: t.get(firm::kind_key(kind)).to_owned(),
            selected: selected(&params.kind, kind.as_str()),
        })
        .collect();
    let ages = AgeBucket::ALL
        .into_iter()
        .map(|age| Choice {
            value: age.as_str().to_owned(),
            label: t
                .get(&format!("firm.age_bucket.{}", age.as_str()))
                .to_owned(),
            selected: selected(&params.age, age.as_str()),
        })
        .collect();
    let accountants = page
        .accountants
        .iter()
        .map(|(id, name)| Choice {
            value: id.to_string(),
            label: name.clone(),
            selected: selected(&params.accountant, &id.to_string()),
        })
        .collect();
    let counts = page
        .counts
        .iter()
        .map(|(kind, count)| CountView {
            label: t.get(firm::kind_key(*kind)).to_owned(),
            count: *count,
            href: format!("/firm?{}", params.with("kind", kind.as_str())),
            current: selected(&params.kind, kind.as_str()),
        })
        .collect();
    let query = params.query();
    let here = if query.is_empty() {
        "/firm".to_owned()
    } else {
        format!("/firm?{query}")
    };
    let next_href = page
        .next
        .as_ref()
        .map(|cursor| format!("/firm?{}", params.with("after", cursor)));
    let first_href = filter.after.is_some().then(|| here.clone());
    let export_href = if query.is_empty() {
        "/firm/export.csv".to_owned()
    } else {
        format!("/firm/export.csv?{query}")
    };
    let view = InboxPage {
        rows: page.rows.into_iter().map(|row| row_view(row, t)).collect(),
        layout,
        counts,
        companies,
        kinds,
        ages,
        accountants,
        next_href,
        first_href,
        export_href,
        reset_href: "/firm".to_owned(),
    };
    Ok(respond(&req, StatusCode::OK, view))
}

/// `GET /firm/export.csv`: the current view (its filters, every page) as CSV for a spreadsheet.
pub async fn export(
    state: web::Data<AppState>,
    user: CurrentUser,
    params: web::Query<InboxParams>,
) -> Result<HttpResponse, WebError> {
    staff(&state, &user).await?;
    let t = Tr::new(user.language());
    let Some(filter) = params.filter() else {
        return Ok(bad_filter(t));
    };
    let body = match firm::inbox_csv(&state, &user.user, &filter, Utc::now(), t.lang).await {
        Ok(body) => body,
        Err(error) => return inbox_failure(error, t),
    };
    let name = format!("cabinet-{}.csv", Utc::now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(body))
}

// ---- live updates ----

/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

struct Listener {
    receiver: Receiver<LiveEvent>,
    heartbeat: Interval,
    recheck: Interval,
    /// The companies the person may see (read again at each re-check: a portfolio can shrink).
    tenants: HashSet<TenantId>,
    greeted: bool,
    state: web::Data<AppState>,
    session_hash: String,
    _slot: StreamSlot,
}

/// The session still valid and the person still firm staff: the companies they see now.
async fn still_visible(listener: &Listener) -> Result<Option<HashSet<TenantId>>, WebError> {
    let state = &listener.state;
    let Some(user) = state
        .sessions
        .peek_valid(&listener.session_hash, Utc::now())
        .await?
    else {
        return Ok(None);
    };
    if !state.firm.is_staff(&user).await? {
        return Ok(None);
    }
    Ok(Some(visible_ids(state, &user).await?))
}

async fn visible_ids(
    state: &AppState,
    user: &portal_persistence::users::User,
) -> Result<HashSet<TenantId>, WebError> {
    Ok(firm::visible_companies(state, user)
        .await?
        .into_iter()
        .map(|company| company.tenant.id)
        .collect())
}

async fn next_chunk(mut listener: Listener) -> Option<(Result<Bytes, Infallible>, Listener)> {
    if !listener.greeted {
        listener.greeted = true;
        return Some((Ok(Bytes::from_static(b"retry: 5000\n: live\n\n")), listener));
    }
    loop {
        tokio::select! {
            _ = listener.recheck.tick() => match still_visible(&listener).await {
                Ok(Some(tenants)) => {
                    listener.tenants = tenants;
                    return Some((Ok(Bytes::from_static(b": checked\n\n")), listener));
                }
                Ok(None) => return None,
                Err(error) => {
                    tracing::warn!(error = %error, "firm live stream re-check failed: ended");
                    return None;
                }
            },
            _ = listener.heartbeat.tick() => {
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), listener));
            }
            received = listener.receiver.recv() => match received {
                // Only that an invoice of a visible company changed: the page fetches its own view again, so
                // nothing of a company outside the person's companies ever travels on this stream.
                Ok(event) if listener.tenants.contains(&event.tenant) => {
                    return Some((Ok(Bytes::from_static(b"event: invoice\ndata: {}\n\n")), listener));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    return Some((Ok(Bytes::from_static(b"event: invoice\ndata: {}\n\n")), listener));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// `GET /firm/live`: tells the open inbox when something changed in one of the person's companies.
pub async fn live(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, WebError> {
    staff(&state, &user).await?;
    let Some(slot) = state.live_streams.open(user.user.id) else {
        return Ok(error_page(StatusCode::TOO_MANY_REQUESTS, ""));
    };
    let tenants = visible_ids(&state, &user.user).await?;
    let recheck = state.live_streams.recheck;
    let listener = Listener {
        receiver: state.live.subscribe(),
        heartbeat: interval_at(Instant::now() + HEARTBEAT, HEARTBEAT),
        recheck: interval_at(Instant::now() + recheck, recheck),
        tenants,
        greeted: false,
        session_hash: user.session_hash.clone(),
        state,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(listener, next_chunk);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
