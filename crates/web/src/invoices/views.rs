//! The invoice list, the invoice page and the download of an invoice's files: read-only views of what the editor
//! and the status ingestion write. Everything shown is put into words here (language, Paris time, amounts), so the
//! templates only lay it out; the dashboard's invoice panels come from here too.

use crate::components::actions::{Action, Decisions, decide};
use crate::components::status::{StatusBadge, coded, state_key, status_badge, tone_of};
use crate::extract::find_invoice;
use crate::format;
use crate::forms::parse_date;
use portal_app::invoicing::files::{
    FileProblem, ORDER_PDF, fetch_invoice_file, file_of, sent_file_id,
};

use crate::errors::{WebError, respond};
use crate::extract::{TenantContext, layout_for};
use crate::i18n::Tr;
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_web::http::StatusCode as HttpStatus;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::{DateTime, Utc};
use portal_domain::Language;
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{DocumentType, LineDraft};
use portal_domain::lifecycle::{ActionReason, Delivery, EventKind, History, Payment, TaxReporting};
use portal_domain::money::LineAmounts;
use portal_domain::status::{StatusCode, reason_label, requested_action_label};
use portal_persistence::TenantRole;
use portal_persistence::invoices::{
    Cursor, InvoiceFilter, InvoiceRecord, InvoiceRow, InvoiceSort, StatusCounts, StoredEvent,
    SubmissionState,
};

/// Rows per page of the list.
const PAGE_SIZE: u64 = 50;
/// Entries of the dashboard's queue of invoices that need the supplier.
const QUEUE_SIZE: u64 = 20;
/// Events in the dashboard's "latest news".
const RECENT_EVENTS: u64 = 10;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices", web::get().to(list))
        // Before `{id}`, which would take `chips` for an invoice's id (and answer 404).
        .route("/invoices/chips", web::get().to(list_chips))
        .route("/invoices/{id}", web::get().to(show))
        .route("/invoices/{id}/row", web::get().to(row))
        .route("/invoices/{id}/files/{file_id}", web::get().to(file));
}

fn live_url(slug: &str) -> String {
    format!("/t/{slug}/live")
}

fn live_js() -> String {
    crate::assets::url("js/live.js")
}

// ---- words shared by the list, the page and the dashboard ----

fn payment_key(payment: Payment) -> &'static str {
    match payment {
        Payment::Unpaid => "views.payment.unpaid",
        Payment::Partial => "views.payment.partial",
        Payment::Paid => "views.payment.paid",
    }
}

/// An event's title: the official code and label, an informational step, or "not classified".
fn event_title(code: Option<StatusCode>, kind: EventKind, t: Tr) -> (Option<u16>, String) {
    match (kind, code) {
        (EventKind::Status, Some(code)) => (Some(code.0), code.label(t.lang)),
        (EventKind::TaxDataSent, _) => (None, t.get("views.event.tax_data_sent").to_owned()),
        (EventKind::TaxReportingDone, _) => {
            (None, t.get("views.event.tax_reporting_done").to_owned())
        }
        _ => (None, t.get("views.event.unclassified").to_owned()),
    }
}

fn number_or_placeholder(number: &str, t: Tr) -> String {
    if number.trim().is_empty() {
        t.get("views.no_number").to_owned()
    } else {
        number.to_owned()
    }
}

fn age_text(since: DateTime<Utc>, t: Tr) -> String {
    match format::days_between(since, Utc::now()) {
        0 => t.get("views.age.today").to_owned(),
        1 => t.get("views.age.one_day").to_owned(),
        days => t.fill("views.age.days", &[("days", &days.to_string())]),
    }
}

/// A filter chip: a link to the list narrowed to one status, with how many invoices are in it.
#[derive(Debug, Clone)]
pub(crate) struct Chip {
    pub href: String,
    pub label: String,
    pub count: u64,
    pub tone: &'static str,
    pub active: bool,
}

/// The chips for every headline status and every not-yet-sent state that has invoices, plus "all" and "needs
/// action". `current` is the list's own status filter in the chips' query form, to mark the chip in use.
fn chips(slug: &str, counts: &StatusCounts, t: Tr, current: Option<&str>) -> Vec<Chip> {
    let base = format!("/t/{slug}/invoices");
    let chip = |query: String, label: String, count: u64, tone: &'static str| Chip {
        href: if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{query}")
        },
        active: current == Some(query.as_str()),
        label,
        count,
        tone,
    };
    let mut out = vec![chip(
        String::new(),
        t.get("views.chip.all").to_owned(),
        counts.total,
        "neutral",
    )];
    if counts.needs_action > 0 {
        out.push(chip(
            "action=1".to_owned(),
            t.get("views.chip.needs_action").to_owned(),
            counts.needs_action,
            "warn",
        ));
    }
    for (code, count) in &counts.by_headline {
        out.push(chip(
            format!("status={}", code.0),
            coded(*code, t.lang),
            *count,
            tone_of(*code),
        ));
    }
    for (state, count) in &counts.by_submission {
        out.push(chip(
            format!("status=none&state={}", state.as_str()),
            t.get(state_key(*state)).to_owned(),
            *count,
            if *state == SubmissionState::Failed {
                "bad"
            } else {
                "muted"
            },
        ));
    }
    out
}

// ---- the list ----

/// The list's query parameters as typed, to fill the form again and to carry them to the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListParams {
    pub status: String,
    pub state: String,
    pub action: String,
    pub customer: String,
    pub from: String,
    pub to: String,
    pub q: String,
    pub sort: String,
    pub after: String,
}

/// The longest search text kept: enough for any number or name, short enough for a cheap query.
const MAX_SEARCH: usize = 100;

/// What a list request asks for, once checked.
pub(crate) struct ParsedList {
    pub(crate) filter: InvoiceFilter,
    after: Option<Cursor>,
    /// One sentence per refused parameter; any makes the answer a 400.
    pub(crate) problems: Vec<String>,
}

impl ListParams {
    pub(crate) fn from_query(query: &str) -> Self {
        let mut params = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            match key.as_ref() {
                "status" => params.status = value,
                "state" => params.state = value,
                "action" => params.action = value,
                "customer" => params.customer = value,
                "from" => params.from = value,
                "to" => params.to = value,
                "q" => params.q = value,
                "sort" => params.sort = value,
                "after" => params.after = value,
                // Unknown parameters (tracking, old links) change nothing.
                _ => {}
            }
        }
        params
    }

    pub(crate) fn parse(&self, t: Tr) -> ParsedList {
        let mut problems = Vec::new();
        let mut bad = |key: &str, value: &str| {
            let shown: String = value.chars().take(40).collect();
            problems.push(t.fill(key, &[("value", &shown)]));
        };
        let mut filter = InvoiceFilter::default();
        match self.status.as_str() {
            "" => {}
            "none" => filter.headline = Some(0),
            text => match StatusCode::parse(text) {
                Some(code) if code.0 != 0 => filter.headline = Some(code.0),
                _ => bad("views.bad.status", text),
            },
        }
        if !self.state.is_empty() {
            match SubmissionState::parse(&self.state) {
                Some(state) => filter.submission = Some(state),
                None => bad("views.bad.state", &self.state),
            }
        }
        match self.action.as_str() {
            "" | "0" => {}
            "1" | "on" | "true" => filter.needs_action = true,
            text => bad("views.bad.action", text),
        }
        if !self.customer.is_empty() {
            match CustomerId::parse(&self.customer) {
                Some(id) => filter.customer = Some(id),
                None => bad("views.bad.customer", &self.customer),
            }
        }
        if !self.from.is_empty() {
            match parse_date(&self.from) {
                Some(date) => filter.issued_from = Some(date),
                None => bad("views.bad.from", &self.from),
            }
        }
        if !self.to.is_empty() {
            match parse_date(&self.to) {
                Some(date) => filter.issued_to = Some(date),
                None => bad("views.bad.to", &self.to),
            }
        }
        if let (Some(from), Some(to)) = (filter.issued_from, filter.issued_to)
            && from > to
        {
            problems.push(t.get("views.bad.range").to_owned());
        }
        if self.q.chars().count() > MAX_SEARCH {
            problems.push(t.fill("views.bad.q", &[("max", &MAX_SEARCH.to_string())]));
        } else if !self.q.is_empty() {
            filter.search = Some(self.q.clone());
        }
        if !self.sort.is_empty() {
            match InvoiceSort::parse(&self.sort) {
                Some(sort) => filter.sort = sort,
                None => problems.push(t.fill("views.bad.sort", &[("value", &self.sort)])),
            }
        }
        let after = if self.after.is_empty() {
            None
        } else {
            let cursor = Cursor::decode(&self.after);
            if cursor.is_none() {
                problems.push(t.get("views.bad.after").to_owned());
            }
            cursor
        };
        ParsedList {
            filter,
            after,
            problems,
        }
    }

    fn has_filters(&self) -> bool {
        [
            &self.status,
            &self.state,
            &self.action,
            &self.customer,
            &self.from,
            &self.to,
            &self.q,
        ]
        .iter()
        .any(|value| !value.is_empty())
    }

    /// The query of these filters (and sort), with `after` when given: the next page's link.
    fn query(&self, after: Option<&str>) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("status", &self.status),
            ("state", &self.state),
            ("action", &self.action),
            ("customer", &self.customer),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if !value.is_empty() {
                out.append_pair(key, value);
            }
        }
        if let Some(after) = after {
            out.append_pair("after", after);
        }
        out.finish()
    }

    /// The chips' query form of the status filters, when nothing else narrows the list (so a chip's count is
    /// what the list shows).
    fn chip_query(&self) -> Option<String> {
        if [&self.customer, &self.from, &self.to, &self.q]
            .iter()
            .any(|value| !value.is_empty())
        {
            return None;
        }
        let mut parts = Vec::new();
        if self.action == "1" {
            parts.push("action=1".to_owned());
        }
        if !self.status.is_empty() {
            parts.push(format!("status={}", self.status));
        }
        if !self.state.is_empty() {
            parts.push(format!("state={}", self.state));
        }
        Some(parts.join("&"))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn options(current: &str, choices: Vec<(String, String)>) -> Vec<SelectOption> {
    choices
        .into_iter()
        .map(|(value, label)| SelectOption {
            selected: value == current,
            value,
            label,
        })
        .collect()
}

/// The codes offered in the status filter: the usual ones, and any other code some invoice has.
const FILTER_CODES: [u16; 20] = [
    200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 220, 221, 250, 251, 500,
    501,
];

/// One row of the list, in words.
#[derive(Debug, Clone)]
struct RowView {
    /// The invoice's id: live.js finds the row by it.
    id: String,
    /// Where live.js fetches the row alone when the invoice changes.
    live_src: String,
    href: String,
    number: String,
    is_credit_note: bool,
    customer: String,
    customer_href: Option<String>,
    issue_date: String,
    due_date: String,
    total: String,
    status: StatusBadge,
    needs_action: bool,
    reasons: Vec<String>,
    payment: String,
    /// Links to what the row needs and the table of actions opens: `(href, label)`.
    actions: Vec<(String, String)>,
}

/// The actions a list row links to, when the table of actions opens them (for a member): editing a draft or a
/// failed submission, answering an open request, and, for an invoice that needs its supplier (refused,
/// rejected, disputed), a corrected invoice or a credit note. Every other action is on the invoice's page.
fn row_actions(
    slug: &str,
    href: &str,
    row: &InvoiceRow,
    member: bool,
    t: Tr,
) -> Vec<(String, String)> {
    if !member {
        return Vec::new();
    }
    let mut wanted = vec![
        (Action::Edit, format!("{href}/edit")),
        (Action::Answer, format!("{href}/answer")),
    ];
    if row.needs_action {
        let new = format!("/t/{slug}/invoices/new");
        wanted.push((
            Action::CorrectedInvoice,
            format!("{new}?from={}&as=corrected", row.id),
        ));
        wanted.push((
            Action::CreditNote,
            format!("{new}?from={}&as=credit_note", row.id),
        ));
    }
    wanted
        .into_iter()
        .filter(|(action, _)| decide(*action, &row.situation).is_ok())
        .map(|(action, link)| (link, action.label(t.lang).to_owned()))
        .collect()
}

fn row_view(slug: &str, row: &InvoiceRow, member: bool, t: Tr) -> RowView {
    let lang = t.lang;
    let submitted = !matches!(
        row.submission,
        SubmissionState::Draft | SubmissionState::Queued | SubmissionState::Failed
    );
    let href = format!("/t/{slug}/invoices/{}", row.id);
    RowView {
        id: row.id.to_string(),
        live_src: format!("{href}/row"),
        actions: row_actions(slug, &href, row, member, t),
        href,
        number: number_or_placeholder(&row.number, t),
        is_credit_note: row.document_type == DocumentType::CreditNote,
        customer: row.buyer_name.clone(),
        customer_href: row
            .customer_id
            .map(|id| format!("/t/{slug}/invoices?customer={id}")),
        issue_date: format::date_or_dash(row.issue_date, lang),
        due_date: format::date_or_dash(row.due_date, lang),
        total: format::amount_cents(row.total_incl_cents, &row.currency, lang),
        status: status_badge(row.headline, row.submission, t),
        needs_action: row.needs_action,
        reasons: row
            .action_reasons
            .iter()
            .map(|reason| reason.label(lang).to_owned())
            .collect(),
        payment: if submitted {
            t.get(payment_key(row.payment)).to_owned()
        } else {
            "—".to_owned()
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/list.html")]
struct ListPage {
    layout: Layout,
    slug: String,
    live: String,
    live_js: String,
    params: ListParams,
    status_options: Vec<SelectOption>,
    state_options: Vec<SelectOption>,
    sort_options: Vec<SelectOption>,
    problems: Vec<String>,
    chips: Vec<Chip>,
    rows: Vec<RowView>,
    next_href: Option<String>,
    first_href: Option<String>,
    clear_href: Option<String>,
    filtered: bool,
    can_create: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let slug = ctx.tenant.slug.clone();
    let params = ListParams::from_query(req.query_string());
    let parsed = params.parse(t);
    let counts = state.invoices.counts(&ctx.scope).await?;

    let (rows, next) = if parsed.problems.is_empty() {
        let page = state
            .invoices
            .list(&ctx.scope, &parsed.filter, parsed.after, PAGE_SIZE)
            .await?;
        (page.rows, page.next)
    } else {
        (Vec::new(), None)
    };
    let base = format!("/t/{slug}/invoices");
    let next_href = next.map(|cursor| format!("{base}?{}", params.query(Some(&cursor.encode()))));
    let first_href = (!params.after.is_empty()).then(|| {
        let query = params.query(None);
        if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{query}")
        }
    });

    let mut codes: Vec<u16> = FILTER_CODES.to_vec();
    codes.extend(counts.by_headline.iter().map(|(code, _)| code.0));
    codes.sort_unstable();
    codes.dedup();
    let mut status_choices = vec![
        (String::new(), t.get("views.filter.any_status").to_owned()),
        ("none".to_owned(), t.get("views.filter.not_sent").to_owned()),
    ];
    status_choices.extend(
        codes
            .into_iter()
            .map(|code| (code.to_string(), coded(StatusCode(code), t.lang))),
    );
    let mut state_choices = vec![(String::new(), t.get("views.filter.any_state").to_owned())];
    state_choices.extend(
        [
            SubmissionState::Draft,
            SubmissionState::Queued,
            SubmissionState::Sending,
            SubmissionState::Sent,
            SubmissionState::Failed,
        ]
        .into_iter()
        .map(|state| {
            (
                state.as_str().to_owned(),
                t.get(state_key(state)).to_owned(),
            )
        }),
    );
    let sort_choices = [
        (InvoiceSort::Recent, "views.sort.recent"),
        (InvoiceSort::Oldest, "views.sort.oldest"),
        (InvoiceSort::TotalDesc, "views.sort.total_desc"),
        (InvoiceSort::TotalAsc, "views.sort.total_asc"),
    ]
    .into_iter()
    .map(|(sort, key)| (sort.as_str().to_owned(), t.get(key).to_owned()))
    .collect();
    let current_sort = if params.sort.is_empty() {
        InvoiceSort::Recent.as_str().to_owned()
    } else {
        params.sort.clone()
    };

    let status = if parsed.problems.is_empty() {
        HttpStatus::OK
    } else {
        HttpStatus::BAD_REQUEST
    };
    let page = ListPage {
        live: live_url(&slug),
        live_js: live_js(),
        status_options: options(&params.status, status_choices),
        state_options: options(&params.state, state_choices),
        sort_options: options(&current_sort, sort_choices),
        problems: parsed.problems,
        chips: chips(&slug, &counts, t, params.chip_query().as_deref()),
        rows: rows
            .iter()
            .map(|row| row_view(&slug, row, ctx.scope.allows(TenantRole::Member), t))
            .collect(),
        next_href,
        first_href,
        clear_href: params.has_filters().then(|| base.clone()),
        filtered: params.has_filters(),
        can_create: ctx.scope.allows(TenantRole::Member),
        params,
        slug,
        layout,
    };
    Ok(respond(&req, status, page))
}

/// The list's chips, alone: what live.js puts in place of the chips once it has replaced the rows that changed
/// (their counts changed with them).
#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/chips.html")]
struct ChipsFragment {
    t: Tr,
    chips: Vec<Chip>,
}

/// `GET /t/{slug}/invoices/chips?{the list's query}`: the chips as the list with that query shows them (the one
/// in use marked), from the company's kept counts (one read of a few rows). Any role of the tenant (a firm
/// accountant through the portfolio) may read them; another tenant, or a company outside the portfolio, is a 404.
pub async fn list_chips(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let params = ListParams::from_query(req.query_string());
    let counts = state.invoices.counts(&ctx.scope).await?;
    let t = Tr::new(ctx.user.language());
    let page = ChipsFragment {
        chips: chips(&ctx.tenant.slug, &counts, t, params.chip_query().as_deref()),
        t,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

/// One row of the list, alone: what live.js puts in place of the row of an invoice that changed.
#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/row.html")]
struct RowFragment {
    t: Tr,
    row: RowView,
}

/// `GET /t/{slug}/invoices/{id}/row`: the invoice's row of the list, as the list shows it to this person (its
/// links to actions by their role), in a table of its own. Any role of the tenant (a firm accountant through
/// the portfolio) may read it; another tenant's invoice, or a company outside the portfolio, is a 404.
pub async fn row(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let id = InvoiceId::parse(id.trim()).ok_or(WebError::NotFound)?;
    let found = state
        .invoices
        .row(&ctx.scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let t = Tr::new(ctx.user.language());
    let page = RowFragment {
        row: row_view(
            &ctx.tenant.slug,
            &found,
            ctx.scope.allows(TenantRole::Member),
            t,
        ),
        t,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

// ---- the invoice page ----

#[derive(Debug, Clone)]
struct Coded {
    code: String,
    label: String,
}

#[derive(Debug, Clone)]
struct OpenRequestView {
    title: String,
    since: String,
    age: String,
    reasons: Vec<Coded>,
    action: Option<Coded>,
    comment: Option<String>,
}

#[derive(Debug, Clone)]
struct SubmissionView {
    state: &'static str,
    label: String,
    explanation: String,
    tone: &'static str,
    error: Option<String>,
    attempts: i32,
    submitted_at: Option<String>,
    sent_at: Option<String>,
    order_id: Option<i64>,
    can_edit: bool,
    can_send: bool,
    can_retry: bool,
    can_delete: bool,
}

#[derive(Debug, Clone)]
struct Track {
    text: String,
    tone: &'static str,
    detail: Option<String>,
}

#[derive(Debug, Clone)]
struct Tracks {
    tax: Track,
    delivery: Track,
    decision: Track,
    payment: Track,
}

#[derive(Debug, Clone)]
struct LineView {
    description: String,
    quantity: String,
    unit: String,
    unit_price: String,
    vat_rate: String,
    net: String,
}

#[derive(Debug, Clone)]
struct VatGroupView {
    rate: String,
    base: String,
    vat: String,
    mention: Option<String>,
}

#[derive(Debug, Clone)]
struct NoteView {
    rule: String,
    message: String,
    terms: String,
}

#[derive(Debug, Clone)]
struct CharacteristicView {
    term: String,
    name: String,
    value: String,
}

#[derive(Debug, Clone)]
struct FileLink {
    href: String,
    name: String,
}

#[derive(Debug, Clone)]
struct TimelineEntry {
    at: String,
    /// The machine-readable instant, for `<time datetime>`.
    at_iso: String,
    code: Option<u16>,
    title: String,
    unclassified: bool,
    description: String,
    source: &'static str,
    reasons: Vec<Coded>,
    action: Option<Coded>,
    comment: Option<String>,
    amount: Option<String>,
    notes: Vec<NoteView>,
    characteristics: Vec<CharacteristicView>,
    file: Option<FileLink>,
    ignored: bool,
    tone: &'static str,
}

#[derive(Debug, Clone)]
struct Download {
    href: String,
    label: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/show.html")]
struct ShowPage {
    layout: Layout,
    slug: String,
    live: String,
    live_js: String,
    base: String,
    number: String,
    type_label: String,
    corrects: Option<String>,
    customer: String,
    customer_href: Option<String>,
    endpoint: String,
    issue_date: String,
    due_date: String,
    delivery_date: Option<String>,
    total_excl: String,
    total_vat: String,
    total_incl: String,
    status: StatusBadge,
    needs_action: bool,
    action_sentences: Vec<String>,
    open_request: Option<OpenRequestView>,
    submission: SubmissionView,
    tracks: Option<Tracks>,
    lines: Vec<LineView>,
    vat_groups: Vec<VatGroupView>,
    references: Vec<(String, String)>,
    notes: Vec<String>,
    timeline: Vec<TimelineEntry>,
    downloads: Vec<Download>,
    settlement: crate::invoices::settlements::SettlementPanel,
    payments: Option<crate::components::payments::PaymentPanel>,
    answers: crate::components::answers::AnswersPanel,
    reminders: crate::components::reminders::RemindersPanel,
}

fn coded_reasons(reasons: &[String], lang: Language) -> Vec<Coded> {
    reasons
        .iter()
        .filter(|reason| !reason.trim().is_empty())
        .map(|reason| Coded {
            code: reason.trim().to_owned(),
            label: reason_label(reason, lang),
        })
        .collect()
}

fn coded_action(action: Option<&str>, lang: Language) -> Option<Coded> {
    let action = action.map(str::trim).filter(|action| !action.is_empty())?;
    Some(Coded {
        code: action.to_owned(),
        label: requested_action_label(action, lang),
    })
}

/// The customer's electronic address (BT-49, `scheme:value`) in a sentence.
fn endpoint_sentence(address: &str, t: Tr) -> String {
    let address = address.trim();
    if address.is_empty() {
        return t.get("views.endpoint.none").to_owned();
    }
    let scheme_key = match address.split_once(':').map(|(scheme, _)| scheme.trim()) {
        Some("0225") => "views.endpoint.scheme_0225",
        Some("0002") => "views.endpoint.scheme_0002",
        Some("0009") => "views.endpoint.scheme_0009",
        Some("9957") => "views.endpoint.scheme_9957",
        Some("0208") => "views.endpoint.scheme_0208",
        _ => "views.endpoint.scheme_other",
    };
    t.fill(
        "views.endpoint.sentence",
        &[("address", address), ("scheme", t.get(scheme_key))],
    )
}

fn submission_view(record: &InvoiceRecord, decisions: &Decisions, t: Tr) -> SubmissionView {
    let state = record.submission;
    let explanation_key = match state {
        SubmissionState::Draft => "views.submission.draft_help",
        SubmissionState::Queued => "views.submission.queued_help",
        SubmissionState::Sending => "views.submission.sending_help",
        SubmissionState::Sent => "views.submission.sent_help",
        SubmissionState::Failed => "views.submission.failed_help",
    };
    SubmissionView {
        state: state.as_str(),
        label: t.get(state_key(state)).to_owned(),
        explanation: t.get(explanation_key).to_owned(),
        tone: match state {
            SubmissionState::Failed => "bad",
            SubmissionState::Sent => "good",
            SubmissionState::Draft => "muted",
            _ => "neutral",
        },
        // A queued or sending invoice may carry the reason of its last transient failure: the user sees why it
        // is late; a sent one has none.
        error: portal_app::invoicing::submit::failure_sentence(record, t)
            .filter(|_| state != SubmissionState::Sent),
        attempts: record.submission_attempts,
        submitted_at: record.submitted_at.map(|at| format::date_time(at, t.lang)),
        sent_at: record.sent_at.map(|at| format::date_time(at, t.lang)),
        order_id: record.billit_order_id,
        can_edit: decisions.offers(Action::Edit),
        can_send: decisions.offers(Action::Send),
        can_retry: decisions.offers(Action::Retry),
        can_delete: decisions.offers(Action::Delete),
    }
}

fn tracks(record: &InvoiceRecord, history: &History, t: Tr) -> Tracks {
    let lang = t.lang;
    let summary = &record.summary;
    let currency = &record.draft.currency;
    let (tax_key, tax_tone) = match summary.tax_reporting {
        TaxReporting::Pending => ("views.track.tax_pending", "neutral"),
        TaxReporting::Done => ("views.track.tax_done", "good"),
        TaxReporting::Failed => ("views.track.tax_failed", "bad"),
    };
    let (delivery_key, delivery_tone) = match summary.delivery {
        Delivery::Pending => ("views.track.delivery_pending", "neutral"),
        Delivery::Delivered => ("views.track.delivery_done", "good"),
        Delivery::Failed => ("views.track.delivery_failed", "bad"),
    };
    let decision = match history.decision {
        Some((code, at)) => Track {
            text: coded(code, lang),
            tone: tone_of(code),
            detail: Some(t.fill(
                "views.track.decision_at",
                &[("at", &format::date_time(at, lang))],
            )),
        },
        None => Track {
            text: t.get("views.track.decision_none").to_owned(),
            tone: "neutral",
            detail: None,
        },
    };
    let paid = summary.amount_paid_cents;
    let remaining = record.totals.incl.saturating_sub(paid).max(0);
    let payment = Track {
        text: t.get(payment_key(summary.payment)).to_owned(),
        tone: match summary.payment {
            Payment::Paid => "good",
            Payment::Partial => "warn",
            Payment::Unpaid => "neutral",
        },
        detail: Some(t.fill(
            "views.track.payment_detail",
            &[
                ("paid", &format::amount_cents(paid, currency, lang)),
                (
                    "remaining",
                    &format::amount_cents(remaining, currency, lang),
                ),
            ],
        )),
    };
    Tracks {
        tax: Track {
            text: t.get(tax_key).to_owned(),
            tone: tax_tone,
            detail: None,
        },
        delivery: Track {
            text: t.get(delivery_key).to_owned(),
            tone: delivery_tone,
            detail: None,
        },
        decision,
        payment,
    }
}

/// The lines as typed, with their nets when they read as numbers, and the VAT groups when every line does.
fn lines_and_groups(record: &InvoiceRecord, lang: Language) -> (Vec<LineView>, Vec<VatGroupView>) {
    let currency = &record.draft.currency;
    let parsed: Vec<Option<LineAmounts>> =
        record.draft.lines.iter().map(LineDraft::amounts).collect();
    let lines = record
        .draft
        .lines
        .iter()
        .zip(&parsed)
        .map(|(line, amounts)| LineView {
            description: line.description.clone(),
            quantity: amounts.map_or_else(
                || line.quantity.clone(),
                |a| format::number(a.quantity.value(), 0, lang),
            ),
            unit: line.unit.trim().to_owned(),
            unit_price: amounts.map_or_else(
                || line.unit_price.clone(),
                |a| format::number(a.unit_price.value(), 2, lang),
            ),
            vat_rate: amounts.map_or_else(
                || line.vat_rate.clone(),
                |a| format::percent(a.vat_rate.value(), lang),
            ),
            net: amounts.map_or_else(
                || "—".to_owned(),
                |a| format::amount(a.net().value(), currency, lang),
            ),
        })
        .collect();
    let groups = portal_domain::invoice::totals_if_complete(&record.draft.lines)
        .map(|totals| {
            totals
                .vat_groups
                .iter()
                .map(|group| VatGroupView {
                    rate: format::percent(group.rate.value(), lang),
                    base: format::amount(group.base.value(), currency, lang),
                    vat: format::amount(group.vat.value(), currency, lang),
                    mention: group.exemption.map(|reason| {
                        lang.pick(reason.mention_fr(), reason.mention_en())
                            .to_owned()
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    (lines, groups)
}

fn timeline_entry(
    base: &str,
    stored: &StoredEvent,
    ignored: &[String],
    currency: &str,
    t: Tr,
) -> TimelineEntry {
    let lang = t.lang;
    let event = &stored.event;
    let (code, title) = event_title(event.code, event.kind, t);
    let details = stored.details.clone().unwrap_or_default();
    TimelineEntry {
        at: format::date_time(event.at, lang),
        at_iso: event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        code,
        title,
        unclassified: event.is_unclassified(),
        description: event.description.trim().to_owned(),
        source: event.source.label(lang),
        reasons: coded_reasons(&event.reasons, lang),
        action: coded_action(event.requested_action.as_deref(), lang),
        comment: event
            .comment
            .clone()
            .filter(|comment| !comment.trim().is_empty()),
        amount: event
            .amount
            .map(|amount| format::amount(amount, currency, lang)),
        notes: details
            .notes
            .iter()
            .map(|note| NoteView {
                rule: note.rule.clone().unwrap_or_default(),
                message: note.message.clone(),
                terms: note.terms.clone().unwrap_or_default(),
            })
            .collect(),
        characteristics: details
            .characteristics
            .iter()
            .map(|item| CharacteristicView {
                term: item.term.clone().unwrap_or_default(),
                name: item.name.clone().unwrap_or_default(),
                value: item.value.clone().unwrap_or_default(),
            })
            .collect(),
        file: event.file_id.as_ref().map(|file_id| FileLink {
            href: format!("{base}/files/{}", urlencode_segment(file_id)),
            name: details
                .file_name
                .clone()
                .unwrap_or_else(|| t.get("views.timeline.file").to_owned()),
        }),
        ignored: ignored.contains(&event.dedup_key),
        tone: match event.effective_code() {
            Some(code) => tone_of(code),
            None if event.is_unclassified() => "muted",
            None => "neutral",
        },
    }
}

/// The files a user expects to find, as Billit's own message centre lists them: the invoice as a PDF, the
/// invoice as it went over the network (the UBL carried by the Peppol send, 201), and the proof of delivery
/// (the buyer's platform's receipt, 202/203). Every other file is on its event in the timeline.
fn downloads(base: &str, record: &InvoiceRecord, events: &[StoredEvent], t: Tr) -> Vec<Download> {
    let mut out = Vec::new();
    if record.billit_order_id.is_some() {
        out.push(Download {
            href: format!("{base}/files/{ORDER_PDF}"),
            label: t.get("views.downloads.pdf").to_owned(),
            detail: t.get("views.downloads.pdf_help").to_owned(),
        });
    }
    if let Some(file_id) = sent_file_id(events) {
        out.push(Download {
            href: format!("{base}/files/{}", urlencode_segment(&file_id)),
            label: t.get("views.downloads.sent").to_owned(),
            detail: t.get("views.downloads.sent_help").to_owned(),
        });
    }
    if let Some(file_id) = file_of(events, &[202, 203]) {
        out.push(Download {
            href: format!("{base}/files/{}", urlencode_segment(&file_id)),
            label: t.get("views.downloads.proof").to_owned(),
            detail: t.get("views.downloads.proof_help").to_owned(),
        });
    }
    out
}

fn urlencode_segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        // `+` means a space only in queries; in a path segment a space is `%20`.
        .replace('+', "%20")
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let record = find_invoice(&state, &ctx, &id).await?;
    let events = state.invoices.events(&ctx.scope, record.id).await?;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let lang = t.lang;
    let slug = ctx.tenant.slug.clone();
    let base = format!("/t/{slug}/invoices/{}", record.id);
    // The stored summary says where the invoice stands; only what the page shows besides is read from the events.
    let history = portal_app::answers::history_of(&record, &events);
    let summary = &record.summary;
    let draft = &record.draft;
    let currency = draft.currency.as_str();

    let open_request = summary.open_request.map(|(code, since)| {
        // The stored summary says which request is open; the events say what it asked.
        let asked = history
            .open_request
            .as_ref()
            .filter(|request| request.code == code);
        OpenRequestView {
            title: coded(code, lang),
            since: format::date_time(since, lang),
            age: age_text(since, t),
            reasons: asked
                .map(|request| coded_reasons(&request.reasons, lang))
                .unwrap_or_default(),
            action: asked
                .and_then(|request| coded_action(request.requested_action.as_deref(), lang)),
            comment: asked
                .and_then(|request| request.comment.clone())
                .filter(|comment| !comment.trim().is_empty()),
        }
    });
    let submitted = record.billit_order_id.is_some()
        || record.submission == SubmissionState::Sent
        || !events.is_empty();
    let (lines, vat_groups) = lines_and_groups(&record, lang);
    let references = [
        ("views.show.purchase_order", &draft.purchase_order),
        ("views.show.contract", &draft.contract),
        ("views.show.buyer_reference", &draft.buyer_reference),
    ]
    .into_iter()
    .filter(|(_, value)| !value.trim().is_empty())
    .map(|(key, value)| (t.get(key).to_owned(), value.clone()))
    .collect();
    let timeline = events
        .iter()
        .map(|stored| timeline_entry(&base, stored, &history.ignored, currency, t))
        .collect();

    // What may be done with it: the table of actions, with its payments and credit notes read, and the open
    // request as its events say (as the answer's use case reads it).
    // Its credit notes and corrected invoices are listed below anyway: what they take back is added up from them.
    let related = state
        .invoices
        .related_documents(&ctx.scope, record.id)
        .await?;
    let known =
        portal_app::actions::known_with_related(&state, &ctx.scope, &record, &related).await?;
    let mut situation = known.situation;
    situation.open_request = portal_app::answers::answerable(&history).map(|request| request.code);
    let decisions = Decisions::new(situation, &ctx);
    let settlement = crate::invoices::settlements::panel(
        &state, &ctx, &record, &related, &events, &history, &decisions, t,
    )
    .await?;
    let answers =
        crate::components::answers::panel(&state, &ctx, &record, &history, &decisions, t).await?;
    let reminders =
        crate::components::reminders::panel(&state, &ctx.scope, &slug, record.id, t).await?;
    let page = ShowPage {
        settlement,
        answers,
        reminders,
        live: live_url(&slug),
        live_js: live_js(),
        number: number_or_placeholder(&draft.number, t),
        type_label: t
            .get(match draft.document_type {
                DocumentType::Invoice => "views.type.invoice",
                DocumentType::CreditNote => "views.type.credit_note",
            })
            .to_owned(),
        corrects: Some(draft.corrects.trim().to_owned()).filter(|number| !number.is_empty()),
        customer: record.buyer_name.clone(),
        customer_href: record
            .customer_id
            .map(|id| format!("/t/{slug}/customers/{id}")),
        endpoint: endpoint_sentence(&draft.buyer.electronic_address, t),
        issue_date: format::date_or_dash(draft.issue_date, lang),
        due_date: format::date_or_dash(draft.due_date, lang),
        delivery_date: draft.delivery_date.map(|date| format::date(date, lang)),
        total_excl: format::amount_cents(record.totals.excl, currency, lang),
        total_vat: format::amount_cents(record.totals.vat, currency, lang),
        total_incl: format::amount_cents(record.totals.incl, currency, lang),
        status: status_badge(summary.headline, record.submission, t),
        needs_action: summary.needs_action,
        action_sentences: action_sentences(&summary.action_reasons, record.submission, lang),
        open_request,
        submission: submission_view(&record, &decisions, t),
        tracks: submitted.then(|| tracks(&record, &history, t)),
        lines,
        vat_groups,
        references,
        notes: draft
            .notes
            .iter()
            .filter(|note| !note.trim().is_empty())
            .cloned()
            .collect(),
        downloads: downloads(&base, &record, &events, t),
        payments: crate::components::payments::panel_for_page(
            &slug,
            &record,
            &known.payments,
            &decisions,
            t,
        ),
        timeline,
        base,
        slug,
        layout,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

/// What the supplier must do, one sentence per reason (a failed submission is one even if the summary predates
/// it).
fn action_sentences(
    reasons: &[ActionReason],
    submission: SubmissionState,
    lang: Language,
) -> Vec<String> {
    let mut reasons = reasons.to_vec();
    if submission == SubmissionState::Failed && !reasons.contains(&ActionReason::SubmissionFailing)
    {
        reasons.push(ActionReason::SubmissionFailing);
    }
    reasons
        .iter()
        .map(|reason| reason.label(lang).to_owned())
        .collect()
}

// ---- files ----

async fn file_unavailable(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    status: HttpStatus,
    message_key: &str,
    back: String,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let page = NoticePage {
        title: layout.t.get("views.file.unavailable").to_owned(),
        message: layout.t.get(message_key).to_owned(),
        link: Some((back, layout.t.get("views.file.back").to_owned())),
        layout,
    };
    Ok(respond(req, status, page))
}

/// Downloads one of this invoice's files from Billit (see `fetch_invoice_file`).
pub async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id, file_id) = path.into_inner();
    let record = find_invoice(&state, &ctx, &id).await?;
    let back = format!("/t/{}/invoices/{}", ctx.tenant.slug, record.id);
    let (status, message_key) =
        match fetch_invoice_file(&state, &ctx.scope, &record, &file_id).await {
            Ok(file) => {
                return Ok(HttpResponse::Ok()
                    .insert_header((header::CONTENT_TYPE, file.mime))
                    .insert_header((
                        header::CONTENT_DISPOSITION,
                        portal_app::files::content_disposition(&file.name),
                    ))
                    .insert_header((header::CACHE_CONTROL, "private, no-store"))
                    .body(file.content));
            }
            Err(FileProblem::NotFound) => return Err(WebError::NotFound),
            Err(FileProblem::Internal(error)) => return Err(WebError::Internal(error)),
            Err(FileProblem::NotConfigured) => {
                (HttpStatus::SERVICE_UNAVAILABLE, "views.file.not_configured")
            }
            Err(FileProblem::Billit) => (HttpStatus::BAD_GATEWAY, "views.file.billit_failed"),
        };
    file_unavailable(&state, &req, &ctx, status, message_key, back).await
}

// ---- the dashboard's panels ----

#[derive(Debug, Clone)]
pub(crate) struct QueueItem {
    pub href: String,
    pub number: String,
    pub customer: String,
    pub status: StatusBadge,
    pub reasons: Vec<String>,
    /// For an open 207/208: since when, and how long ago.
    pub since: Option<String>,
    pub age: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RecentView {
    pub href: String,
    pub number: String,
    pub customer: String,
    pub code: Option<u16>,
    pub title: String,
    pub description: String,
    pub source: &'static str,
    pub at: String,
    /// The machine-readable instant, for `<time datetime>`.
    pub at_iso: String,
    pub tone: &'static str,
}

/// What the tenant's home page shows of its invoices.
#[derive(Debug, Clone)]
pub(crate) struct DashboardPanels {
    pub live: String,
    pub live_js: String,
    pub queue: Vec<QueueItem>,
    pub chips: Vec<Chip>,
    pub recent: Vec<RecentView>,
    pub total: u64,
    pub needs_action: u64,
    pub can_create: bool,
}

pub(crate) async fn dashboard_panels(
    state: &AppState,
    ctx: &TenantContext,
    t: Tr,
) -> Result<DashboardPanels, WebError> {
    let lang = t.lang;
    let slug = &ctx.tenant.slug;
    let counts = state.invoices.counts(&ctx.scope).await?;
    let queue = state
        .invoices
        .needs_action(&ctx.scope, QUEUE_SIZE)
        .await?
        .into_iter()
        .map(|row| {
            let open_since = row.open_request.map(|(_, since)| since);
            QueueItem {
                href: format!("/t/{slug}/invoices/{}", row.id),
                number: number_or_placeholder(&row.number, t),
                customer: row.buyer_name.clone(),
                status: status_badge(row.headline, row.submission, t),
                reasons: action_sentences(&row.action_reasons, row.submission, lang),
                since: open_since.map(|since| format::date_time(since, lang)),
                age: open_since.map(|since| age_text(since, t)),
            }
        })
        .collect();
    let recent = state
        .invoices
        .recent_events(&ctx.scope, RECENT_EVENTS)
        .await?
        .into_iter()
        .map(|event| {
            let (code, title) = event_title(event.code, event.kind, t);
            RecentView {
                href: format!("/t/{slug}/invoices/{}", event.invoice_id),
                number: number_or_placeholder(&event.number, t),
                customer: event.buyer_name,
                code,
                title,
                // Billit's own words matter only where the portal has none of its own.
                description: if matches!(
                    (event.kind, event.code),
                    (EventKind::Unclassified, _) | (EventKind::Status, None)
                ) {
                    event.description
                } else {
                    String::new()
                },
                source: event.source.label(lang),
                at: format::date_time(event.at, lang),
                at_iso: event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                tone: match (event.kind, event.code) {
                    (EventKind::Status, Some(code)) => tone_of(code),
                    (EventKind::Unclassified, _) => "muted",
                    _ => "neutral",
                },
            }
        })
        .collect();
    Ok(DashboardPanels {
        live: live_url(slug),
        live_js: live_js(),
        queue,
        chips: chips(slug, &counts, t, None),
        recent,
        total: counts.total,
        needs_action: counts.needs_action,
        can_create: ctx.scope.allows(TenantRole::Member),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked_one_by_one() {
        let t = Tr::new(Language::En);
        let params = ListParams::from_query(
            "status=207&state=sent&action=1&customer=0192f0c8-0000-7000-8000-000000000001\
             &from=2026-01-01&to=31%2F12%2F2026&q=+acme+&sort=total_asc&utm=x",
        );
        let parsed = params.parse(t);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.filter.headline, Some(207));
        assert_eq!(parsed.filter.submission, Some(SubmissionState::Sent));
        assert!(parsed.filter.needs_action);
        assert!(parsed.filter.customer.is_some());
        assert_eq!(
            parsed.filter.issued_to,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        assert_eq!(parsed.filter.search.as_deref(), Some("acme"));
        assert_eq!(parsed.filter.sort, InvoiceSort::TotalAsc);

        let none = ListParams::from_query("status=none").parse(t);
        assert_eq!(none.filter.headline, Some(0));

        let bad = ListParams::from_query(
            "status=abc&state=lost&action=maybe&customer=42&from=yesterday&to=2026-13-01&sort=x&after=zz",
        )
        .parse(t);
        assert_eq!(bad.problems.len(), 8, "{:?}", bad.problems);

        let range = ListParams::from_query("from=2026-02-01&to=2026-01-01").parse(t);
        assert_eq!(range.problems.len(), 1);
    }

    #[test]
    fn the_next_page_link_keeps_the_filters() {
        let params = ListParams::from_query("status=207&q=a b&after=old");
        assert_eq!(params.query(Some("5_abc")), "status=207&q=a+b&after=5_abc");
        assert_eq!(params.query(None), "status=207&q=a+b");
        assert_eq!(
            params.chip_query(),
            None,
            "a search narrows the chips' counts"
        );
        assert_eq!(
            ListParams::from_query("status=none&state=draft").chip_query(),
            Some("status=none&state=draft".to_owned())
        );
    }

    #[test]
    fn endpoints_are_explained() {
        let t = Tr::new(Language::Fr);
        let sentence = endpoint_sentence("0225:127362116_DEMO", t);
        assert!(sentence.contains("0225:127362116_DEMO"), "{sentence}");
        assert_ne!(endpoint_sentence("", t), sentence);
    }
}
