//! The invoice editor (new, edit, save), sending to Billit (submit, retry), deleting, and the numbering settings.
//! Registered by `configure` before the invoice views, so that `/invoices/new` is not read as an invoice id.

use crate::components::actions::{Action, Refusal, decide, refused_page};
use crate::errors::{WebError, respond};
use crate::extract::find_invoice;
use crate::extract::{Admin, Member, TenantContext, client_ip, layout_for};
use crate::format;
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::invoices::forms::{
    EditorAction, EditorForm, FieldProblems, LineForm, exemption_value, issue_year, problems_of,
    totals_of,
};
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Datelike;
use portal_app::invoicing::drafts::{self, Author, SaveError};
use portal_app::invoicing::submit::{self, QueueError};
use portal_app::settlements::LinkRefusal;
use portal_domain::identifiers::Siren;
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{DocumentType, Problem};
use portal_domain::money::{
    ExemptionReason, LineAmounts, Quantity, UnitPrice, VatRate, VatRateSet,
};
use portal_domain::{Language, Localized};
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceRecord, NumberingSettings, SubmissionState};
use portal_persistence::tenants::Tenant;
use serde::Deserialize;
use std::collections::HashMap;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/new", web::get().to(new_invoice))
        .route("/invoices", web::post().to(create))
        .route("/invoices/{id}/edit", web::get().to(edit))
        .route("/invoices/{id}", web::post().to(save))
        .route("/invoices/{id}/submit", web::post().to(submit_invoice))
        .route("/invoices/{id}/retry", web::post().to(retry))
        .route("/invoices/{id}/delete", web::post().to(delete))
        .route("/settings/numbering", web::get().to(numbering))
        .route("/settings/numbering", web::post().to(save_numbering));
}

/// The invoice's own page (the views area), where every action on an invoice leads.
fn invoice_page(slug: &str, id: InvoiceId) -> String {
    format!("/t/{slug}/invoices/{id}")
}

fn edit_page(slug: &str, id: InvoiceId) -> String {
    format!("/t/{slug}/invoices/{id}/edit")
}

/// Today in France.
fn today() -> chrono::NaiveDate {
    portal_app::dates::today()
}

fn seller_siren(ctx: &TenantContext) -> Option<Siren> {
    Siren::parse(&ctx.tenant.siren).ok()
}

// ---- the page ----

/// One choice of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A plain input of the form, with its problems.
pub struct Field {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    /// `text`, `date`, `email`…
    pub kind: &'static str,
    pub help: Option<String>,
    pub max_length: Option<usize>,
    pub problems: Vec<String>,
    /// Spans the whole row.
    pub wide: bool,
}

pub struct LineView {
    /// The line's key in element ids (its index; a placeholder in the script's template).
    pub key: String,
    /// Counted from 1, for people.
    pub position: String,
    pub line: LineForm,
    pub units: Vec<Choice>,
    pub rates: Vec<Choice>,
    pub exemptions: Vec<Choice>,
    pub net: String,
    pub description_problems: Vec<String>,
    pub quantity_problems: Vec<String>,
    pub unit_price_problems: Vec<String>,
    pub vat_rate_problems: Vec<String>,
    pub exemption_problems: Vec<String>,
}

pub struct GroupView {
    pub label: String,
    pub base: String,
    pub vat: String,
}

pub struct TotalsView {
    pub groups: Vec<GroupView>,
    pub excl: String,
    pub vat: String,
    pub incl: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/editor.html")]
struct EditorPage {
    layout: Layout,
    slug: String,
    /// Where the form posts.
    action: String,
    invoice_id: Option<InvoiceId>,
    is_credit_note: bool,
    document_fields: Vec<Field>,
    buyer_fields: Vec<Field>,
    reference_fields: Vec<Field>,
    customers: Vec<Choice>,
    languages: Vec<Choice>,
    lines: Vec<LineView>,
    /// One empty line for the script's "add a line" (in a list, for the template's loop).
    blank_lines: Vec<LineView>,
    lines_problems: Vec<String>,
    general_problems: Vec<String>,
    /// How many problems remain, when they were looked for (after a save, on a stored draft).
    problem_summary: Option<String>,
    notes: String,
    totals: TotalsView,
    notice: Option<String>,
    alert: Option<String>,
    editor_js: String,
    /// The invoice a credit note or corrected invoice is linked to.
    settlement: Option<crate::invoices::settlements::EditorLink>,
}

const UNITS: [(&str, &str); 12] = [
    ("C62", "editor.unit_c62"),
    ("HUR", "editor.unit_hur"),
    ("DAY", "editor.unit_day"),
    ("WEE", "editor.unit_wee"),
    ("MON", "editor.unit_mon"),
    ("ANN", "editor.unit_ann"),
    ("KGM", "editor.unit_kgm"),
    ("TNE", "editor.unit_tne"),
    ("MTR", "editor.unit_mtr"),
    ("MTK", "editor.unit_mtk"),
    ("LTR", "editor.unit_ltr"),
    ("KMT", "editor.unit_kmt"),
];

/// Keeps a value typed outside the list as a choice of its own, so that a round trip loses nothing.
fn with_unknown(mut choices: Vec<Choice>, value: &str) -> Vec<Choice> {
    if !value.trim().is_empty() && !choices.iter().any(|choice| choice.selected) {
        choices.push(Choice {
            value: value.to_owned(),
            label: value.to_owned(),
            selected: true,
        });
    }
    choices
}

fn unit_choices(t: Tr, unit: &str) -> Vec<Choice> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: t.get("editor.unit_none").to_owned(),
        selected: unit.trim().is_empty(),
    }];
    choices.extend(UNITS.iter().map(|(code, key)| Choice {
        value: (*code).to_owned(),
        label: t.get(key).to_owned(),
        selected: unit.trim().eq_ignore_ascii_case(code),
    }));
    with_unknown(choices, unit)
}

fn rate_choices(t: Tr, typed: &str) -> Vec<Choice> {
    let chosen = VatRate::parse(typed).ok();
    let mainland = VatRateSet::Mainland.rates();
    let overseas = VatRateSet::CorsicaAndOverseas
        .rates()
        .iter()
        .filter(|rate| !mainland.contains(rate));
    let choices = mainland
        .iter()
        .map(|rate| (rate, false))
        .chain(overseas.map(|rate| (rate, true)))
        .map(|(rate, territorial)| {
            let mut label = format::rate(*rate, t.lang);
            if territorial {
                label = format!("{label} ({})", t.get("editor.rate_overseas"));
            }
            Choice {
                value: rate.to_string(),
                label,
                selected: chosen == Some(*rate),
            }
        })
        .collect();
    with_unknown(choices, typed)
}

fn exemption_choices(t: Tr, typed: &str) -> Vec<Choice> {
    let mut choices = vec![Choice {
        value: String::new(),
        label: t.get("editor.exemption_none").to_owned(),
        selected: typed.trim().is_empty(),
    }];
    choices.extend(ExemptionReason::ALL.iter().map(|reason| {
        Choice {
            value: exemption_value(*reason).to_owned(),
            label: match t.lang {
                Language::Fr => reason.mention_fr(),
                Language::En => reason.mention_en(),
            }
            .to_owned(),
            selected: exemption_value(*reason) == typed.trim(),
        }
    }));
    choices
}

fn line_net(line: &LineForm, currency: &str, lang: Language) -> String {
    let amounts = (|| {
        Some(LineAmounts {
            quantity: Quantity::parse(&line.quantity).ok()?,
            unit_price: UnitPrice::parse(&line.unit_price).ok()?,
            vat_rate: VatRate::parse(&line.vat_rate).ok()?,
            exemption: None,
        })
    })();
    amounts.map_or_else(String::new, |amounts| {
        format::money(amounts.net(), currency, lang)
    })
}

fn line_view(
    t: Tr,
    index: usize,
    line: &LineForm,
    currency: &str,
    problems: &FieldProblems,
) -> LineView {
    let of = |name: &str| problems.of(&format!("line{index}.{name}")).to_vec();
    LineView {
        key: index.to_string(),
        position: (index + 1).to_string(),
        units: unit_choices(t, &line.unit),
        rates: rate_choices(t, &line.vat_rate),
        exemptions: exemption_choices(t, &line.exemption),
        net: line_net(line, currency, t.lang),
        description_problems: of("description"),
        quantity_problems: of("quantity"),
        unit_price_problems: of("unit_price"),
        vat_rate_problems: of("vat_rate"),
        exemption_problems: of("exemption"),
        line: line.clone(),
    }
}

/// What the editor shows besides the form itself.
struct Render<'a> {
    status: StatusCode,
    invoice: Option<&'a InvoiceRecord>,
    form: EditorForm,
    /// Look for problems (after a save, or for a stored draft).
    check: bool,
    notice: Option<String>,
    alert: Option<String>,
}

async fn render_editor(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    render: Render<'_>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let form = render.form;
    let parsed = form.parse(seller_siren(ctx));
    let invoice_id = render.invoice.map(|invoice| invoice.id);
    let problems: Vec<Problem> = if render.check {
        let taken = match issue_year(&parsed.draft) {
            Some(year) if !parsed.draft.number.is_empty() => {
                state
                    .invoices
                    .number_taken(&ctx.scope, year, &parsed.draft.number, invoice_id)
                    .await?
            }
            _ => false,
        };
        problems_of(&parsed.draft, taken)
    } else {
        Vec::new()
    };
    let input_problems = if render.check {
        parsed.input_problems.clone()
    } else {
        Vec::new()
    };
    let field_problems = FieldProblems::new(&problems, &input_problems, &parsed.line_origin, t);
    let currency = if form.currency.trim().is_empty() {
        "EUR".to_owned()
    } else {
        form.currency.trim().to_ascii_uppercase()
    };
    let totals = totals_of(&parsed.draft.lines);
    let money = |amount| format::money(amount, &currency, t.lang);
    let totals = TotalsView {
        groups: totals
            .as_ref()
            .map(|totals| {
                totals
                    .vat_groups
                    .iter()
                    .map(|group| GroupView {
                        label: match group.exemption {
                            Some(reason) => format!(
                                "{} {} · {}",
                                t.get("editor.vat"),
                                format::rate(group.rate, t.lang),
                                match t.lang {
                                    Language::Fr => reason.mention_fr(),
                                    Language::En => reason.mention_en(),
                                }
                            ),
                            None => format!(
                                "{} {}",
                                t.get("editor.vat"),
                                format::rate(group.rate, t.lang)
                            ),
                        },
                        base: money(group.base),
                        vat: money(group.vat),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        excl: money(totals.as_ref().map(|t| t.total_excl).unwrap_or_default()),
        vat: money(totals.as_ref().map(|t| t.total_vat).unwrap_or_default()),
        incl: money(totals.as_ref().map(|t| t.total_incl).unwrap_or_default()),
    };
    let field = |name: &'static str, key: &str, value: &str, kind: &'static str| Field {
        name,
        label: t.get(key).to_owned(),
        value: value.to_owned(),
        kind,
        help: None,
        max_length: None,
        problems: field_problems.of(name).to_vec(),
        wide: false,
    };
    let with_help = |mut field: Field, key: &str| {
        field.help = Some(t.get(key).to_owned());
        field
    };
    let max = |mut field: Field, length: usize| {
        field.max_length = Some(length);
        field
    };
    let wide = |mut field: Field| {
        field.wide = true;
        field
    };
    let document_fields = vec![
        max(field("number", "editor.number", &form.number, "text"), 35),
        max(
            with_help(
                field("corrects", "editor.corrects", &form.corrects, "text"),
                "editor.corrects_help",
            ),
            35,
        ),
        field("issue_date", "editor.issue_date", &form.issue_date, "date"),
        field("due_date", "editor.due_date", &form.due_date, "date"),
        field(
            "delivery_date",
            "editor.delivery_date",
            &form.delivery_date,
            "date",
        ),
        with_help(
            field(
                "paid_at_issue",
                "editor.paid_at_issue",
                &form.paid_at_issue,
                "date",
            ),
            "editor.paid_at_issue_help",
        ),
        max(
            field("currency", "editor.currency", &form.currency, "text"),
            3,
        ),
    ];
    let buyer_fields = vec![
        wide(field(
            "buyer_legal_name",
            "editor.buyer_legal_name",
            &form.buyer_legal_name,
            "text",
        )),
        field(
            "buyer_siren",
            "editor.buyer_siren",
            &form.buyer_siren,
            "text",
        ),
        field(
            "buyer_siret",
            "editor.buyer_siret",
            &form.buyer_siret,
            "text",
        ),
        field(
            "buyer_vat_number",
            "editor.buyer_vat_number",
            &form.buyer_vat_number,
            "text",
        ),
        with_help(
            field(
                "buyer_electronic_address",
                "editor.buyer_electronic_address",
                &form.buyer_electronic_address,
                "text",
            ),
            "editor.buyer_electronic_address_help",
        ),
        wide(with_help(
            field(
                "buyer_emails",
                "editor.buyer_emails",
                &form.buyer_emails,
                "text",
            ),
            "editor.buyer_emails_help",
        )),
        wide(field(
            "buyer_street",
            "editor.buyer_street",
            &form.buyer_street,
            "text",
        )),
        wide(field(
            "buyer_additional",
            "editor.buyer_additional",
            &form.buyer_additional,
            "text",
        )),
        field(
            "buyer_postcode",
            "editor.buyer_postcode",
            &form.buyer_postcode,
            "text",
        ),
        field("buyer_city", "editor.buyer_city", &form.buyer_city, "text"),
        max(
            field(
                "buyer_country",
                "editor.buyer_country",
                &form.buyer_country,
                "text",
            ),
            2,
        ),
    ];
    let reference_fields = vec![
        field(
            "purchase_order",
            "editor.purchase_order",
            &form.purchase_order,
            "text",
        ),
        field("contract", "editor.contract", &form.contract, "text"),
        field(
            "buyer_reference",
            "editor.buyer_reference",
            &form.buyer_reference,
            "text",
        ),
    ];
    let chosen_customer = form.customer();
    let mut customers = vec![Choice {
        value: String::new(),
        label: t.get("editor.customer_none").to_owned(),
        selected: chosen_customer.is_none(),
    }];
    customers.extend(
        state
            .invoices
            .buyer_choices(&ctx.scope, 1000)
            .await?
            .into_iter()
            .map(|(id, name)| Choice {
                value: id.to_string(),
                selected: Some(id) == chosen_customer,
                label: name,
            }),
    );
    let buyer_language = Language::parse(&form.buyer_language).unwrap_or_default();
    let languages = [(Language::Fr, "Français"), (Language::En, "English")]
        .into_iter()
        .map(|(language, label)| Choice {
            value: language.code().to_owned(),
            label: label.to_owned(),
            selected: language == buyer_language,
        })
        .collect();
    let lines = form
        .lines
        .iter()
        .enumerate()
        .map(|(index, line)| line_view(t, index, line, &currency, &field_problems))
        .collect();
    let lines_problems = field_problems.of("lines").to_vec();
    let settlement =
        crate::invoices::settlements::editor_link(state, ctx, &form, render.invoice, t).await?;
    let page = EditorPage {
        settlement,
        slug: ctx.tenant.slug.clone(),
        action: match invoice_id {
            Some(id) => invoice_page(&ctx.tenant.slug, id),
            None => format!("/t/{}/invoices", ctx.tenant.slug),
        },
        invoice_id,
        is_credit_note: form.document_type == DocumentType::CreditNote,
        document_fields,
        buyer_fields,
        reference_fields,
        customers,
        languages,
        blank_lines: vec![LineView {
            key: "__KEY__".to_owned(),
            position: "__POSITION__".to_owned(),
            ..line_view(
                t,
                0,
                &LineForm::default(),
                &currency,
                &FieldProblems::default(),
            )
        }],
        lines,
        lines_problems,
        general_problems: field_problems.of("").to_vec(),
        problem_summary: (render.check && !field_problems.is_empty()).then(|| {
            t.fill(
                "editor.problem_count",
                &[("count", &field_problems.count().to_string())],
            )
        }),
        notes: form.notes.clone(),
        totals,
        notice: render.notice,
        alert: render.alert,
        editor_js: crate::assets::url("js/editor.js"),
        layout,
    };
    Ok(respond(req, render.status, page))
}

// ---- new, edit, save ----

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    document_type: Option<String>,
    corrects: Option<String>,
    customer: Option<String>,
    /// A credit note or corrected invoice of this invoice (`as` = `credit_note` or `corrected`).
    from: Option<String>,
    #[serde(rename = "as")]
    settle_as: Option<String>,
}

pub async fn new_invoice(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, WebError> {
    // The older address of a credit note, `?type=credit_note&corrects=<number>`: when the number is one of this
    // tenant's sent invoices, the credit note is linked to it exactly as `?from=<id>&as=credit_note` does, so that
    // what it may take back is limited the same way.
    let corrected = match (query.document_type.as_deref(), query.corrects.as_deref()) {
        (Some("credit_note"), Some(number)) if query.from.is_none() => {
            match state
                .invoices
                .find_by_number(&ctx.scope, number.trim())
                .await?
            {
                // Only what the table of actions lets be credited is linked (an invoice not sent yet is edited
                // instead): otherwise the form below only copies it.
                Some(original)
                    if portal_app::settlements::may_start_from(
                        &state,
                        &ctx.scope,
                        &original,
                        DocumentType::CreditNote,
                    )
                    .await?
                    .is_ok() =>
                {
                    Some(original.id.to_string())
                }
                _ => None,
            }
        }
        _ => None,
    };
    let linked = match (query.from.as_deref(), corrected.as_deref()) {
        (Some(from), _) => Some((from, query.settle_as.as_deref().unwrap_or_default())),
        (None, Some(original)) => Some((original, "credit_note")),
        (None, None) => None,
    };
    if let Some((from, settle_as)) = linked {
        let form = match crate::invoices::settlements::prefill(
            &state,
            &req,
            &ctx,
            from,
            settle_as,
            today(),
        )
        .await?
        {
            crate::invoices::settlements::Prefill::Form(form) => *form,
            crate::invoices::settlements::Prefill::Refused(response) => return Ok(response),
        };
        let render = Render {
            status: StatusCode::OK,
            invoice: None,
            form,
            check: false,
            notice: None,
            alert: None,
        };
        return render_editor(&state, &req, &ctx, render).await;
    }
    let document_type = if query.document_type.as_deref() == Some("credit_note") {
        DocumentType::CreditNote
    } else {
        DocumentType::Invoice
    };
    let number = state
        .invoices
        .propose_number(&ctx.scope, document_type, today())
        .await?;
    let mut form = EditorForm::new_document(document_type, number, today());
    if document_type == DocumentType::CreditNote
        && let Some(corrects) = query.corrects.as_deref().map(str::trim)
    {
        form.corrects = corrects.chars().take(35).collect();
        // A credit note usually takes back what the invoice said: start from its buyer and lines.
        if let Some(original) = state.invoices.find_by_number(&ctx.scope, corrects).await? {
            let copied = EditorForm::from_record(&original);
            form.customer_id = copied.customer_id.clone();
            form.lines = copied.lines.clone();
            form.purchase_order = copied.purchase_order.clone();
            form.contract = copied.contract.clone();
            form.buyer_reference = copied.buyer_reference.clone();
            form.set_buyer(&original.draft.buyer);
        }
    }
    if let Some(customer) = query.customer.as_deref().and_then(CustomerId::parse) {
        let (id, buyer) = state
            .invoices
            .get_buyer(&ctx.scope, customer)
            .await?
            .ok_or(WebError::NotFound)?;
        form.customer_id = id.to_string();
        form.set_buyer(&buyer);
    }
    render_editor(
        &state,
        &req,
        &ctx,
        Render {
            status: StatusCode::OK,
            invoice: None,
            form,
            check: false,
            notice: None,
            alert: None,
        },
    )
    .await
}

/// Whether the editor may change it (the table of actions: a draft, or a failed submission, that never became a
/// Billit order), or why not.
fn editable(invoice: &InvoiceRecord) -> Result<(), Refusal> {
    decide(Action::Edit, &portal_app::actions::without_amounts(invoice))
}

/// The 409 page of an action on this invoice the table refuses.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    id: InvoiceId,
    refusal: &Refusal,
) -> Result<HttpResponse, WebError> {
    refused_page(
        state,
        req,
        ctx,
        refusal,
        "editor.refused_title",
        (invoice_page(&ctx.tenant.slug, id), "editor.to_invoice"),
    )
    .await
}

#[derive(Deserialize)]
pub struct EditQuery {
    saved: Option<String>,
    notice: Option<String>,
}

pub async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    if editable(&invoice).is_err() {
        return Ok(see_other(&invoice_page(&ctx.tenant.slug, invoice.id)));
    }
    let t = Tr::new(ctx.user.language());
    let notice = query
        .saved
        .is_some()
        .then(|| t.get("editor.saved").to_owned());
    let alert = match (query.notice.as_deref(), invoice.submission) {
        (Some("fix_first"), _) => Some(t.get("editor.fix_first").to_owned()),
        (_, SubmissionState::Failed) => Some(t.fill(
            "editor.failed",
            &[(
                "reason",
                &submit::failure_sentence(&invoice, t).unwrap_or_default(),
            )],
        )),
        _ => None,
    };
    render_editor(
        &state,
        &req,
        &ctx,
        Render {
            status: StatusCode::OK,
            invoice: Some(&invoice),
            form: EditorForm::from_record(&invoice),
            check: true,
            notice,
            alert,
        },
    )
    .await
}

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    save_form(&state, &req, &ctx, None, &body).await
}

pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    save_form(&state, &req, &ctx, Some(&invoice), &body).await
}

fn not_editable_page(
    req: &HttpRequest,
    ctx: &TenantContext,
    layout: Layout,
    id: InvoiceId,
    key: &str,
) -> HttpResponse {
    let t = layout.t;
    let page = NoticePage {
        title: t.get("editor.refused_title").to_owned(),
        message: t.get(key).to_owned(),
        link: Some((
            invoice_page(&ctx.tenant.slug, id),
            t.get("editor.to_invoice").to_owned(),
        )),
        layout,
    };
    respond(req, StatusCode::CONFLICT, page)
}

async fn save_form(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: Option<&InvoiceRecord>,
    body: &[u8],
) -> Result<HttpResponse, WebError> {
    if let Some(invoice) = invoice
        && let Err(refusal) = editable(invoice)
    {
        return refused(state, req, ctx, invoice.id, &refusal).await;
    }
    let (mut form, action) = EditorForm::from_body(body);
    let again = |form: EditorForm, status: StatusCode, check: bool| Render {
        status,
        invoice,
        form,
        check,
        notice: None,
        alert: None,
    };
    match action {
        EditorAction::AddLine => {
            form.lines.push(LineForm::default());
            return render_editor(state, req, ctx, again(form, StatusCode::OK, false)).await;
        }
        EditorAction::RemoveLine(index) => {
            if index < form.lines.len() {
                form.lines.remove(index);
            }
            if form.lines.is_empty() {
                form.lines.push(LineForm::default());
            }
            return render_editor(state, req, ctx, again(form, StatusCode::OK, false)).await;
        }
        EditorAction::UseCustomer => {
            match form.customer() {
                Some(customer) => {
                    if let Some((id, buyer)) =
                        state.invoices.get_buyer(&ctx.scope, customer).await?
                    {
                        form.customer_id = id.to_string();
                        form.set_buyer(&buyer);
                    }
                }
                None => form.customer_id.clear(),
            }
            return render_editor(state, req, ctx, again(form, StatusCode::OK, false)).await;
        }
        EditorAction::Save | EditorAction::Send => {}
    }
    let parsed = form.parse(seller_siren(ctx));
    let draft = &parsed.draft;
    // What the database cannot keep as typed is shown again, unsaved, with its problem.
    let unstorable = !parsed.input_problems.is_empty()
        || draft.number.chars().count() > 35
        || draft.corrects.chars().count() > 35
        || draft.currency.chars().count() > 3;
    if unstorable {
        return render_editor(
            state,
            req,
            ctx,
            again(form, StatusCode::UNPROCESSABLE_ENTITY, true),
        )
        .await;
    }
    // A credit note or corrected invoice is linked to an invoice of this tenant (the stored link of a saved
    // document, else the form's hidden field); the use case checks it may be, within what remains of it.
    let original =
        crate::invoices::settlements::linked_original(state, ctx, &form, invoice).await?;
    let author = Author {
        user: ctx.user.user.id,
        ip: client_ip(req),
    };
    let saved = drafts::save(
        state,
        &ctx.scope,
        invoice,
        parsed.draft.clone(),
        parsed.customer_id,
        original.as_ref(),
        &author,
    )
    .await;
    let id = match saved {
        Ok(id) => id,
        // The number is taken (by another draft, perhaps meanwhile): the check says so next to the field.
        Err(SaveError::NumberTaken) => {
            return render_editor(
                state,
                req,
                ctx,
                again(form, StatusCode::UNPROCESSABLE_ENTITY, true),
            )
            .await;
        }
        Err(SaveError::Link(LinkRefusal::OverLimit {
            amount_cents,
            remaining_cents,
        })) if original.is_some() => {
            let t = Tr::new(ctx.user.language());
            let sentence = original.as_ref().map(|original| {
                crate::invoices::settlements::over_limit_sentence(
                    original,
                    amount_cents,
                    remaining_cents,
                    t,
                )
            });
            let mut render = again(form, StatusCode::UNPROCESSABLE_ENTITY, true);
            render.alert = sentence;
            return render_editor(state, req, ctx, render).await;
        }
        // The original may not be credited or corrected (any more): the form stays, with the reason, unsaved.
        Err(SaveError::Link(LinkRefusal::Refused(refusal))) => {
            let t = Tr::new(ctx.user.language());
            let mut render = again(form, StatusCode::CONFLICT, true);
            render.alert = Some(refusal.message(t.lang));
            return render_editor(state, req, ctx, render).await;
        }
        Err(SaveError::Refused(refusal)) => {
            let id = invoice.map(|invoice| invoice.id).unwrap_or_default();
            return refused(state, req, ctx, id, &refusal).await;
        }
        Err(other) => return Err(WebError::from_failure(other)),
    };
    if action == EditorAction::Send {
        let record = state
            .invoices
            .get(&ctx.scope, id)
            .await?
            .ok_or(WebError::NotFound)?;
        return queue_and_redirect(state, req, ctx, &record).await;
    }
    Ok(see_other(&format!(
        "{}?saved=1",
        edit_page(&ctx.tenant.slug, id)
    )))
}

// ---- sending, retrying, deleting ----

async fn queue_and_redirect(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
) -> Result<HttpResponse, WebError> {
    let t = Tr::new(ctx.user.language());
    if invoice.submission.is_editable()
        && let Some(sentence) =
            crate::invoices::settlements::check_before_sending(state, ctx, invoice, t).await?
    {
        let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
        let page = NoticePage {
            title: layout.t.get("editor.refused_title").to_owned(),
            message: sentence,
            link: Some((
                edit_page(&ctx.tenant.slug, invoice.id),
                layout.t.get("settlements.to_editor").to_owned(),
            )),
            layout,
        };
        return Ok(respond(req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let submitted = AuditEntry::new("invoice.submitted", format!("invoice:{}", invoice.id))
        .by(Some(ctx.user.user.id))
        .from_ip(client_ip(req))
        .details(serde_json::json!({ "number": invoice.number() }));
    let outcome = submit::queue(
        state,
        &ctx.scope,
        &ctx.tenant.siren,
        invoice,
        Some(submitted),
    )
    .await;
    let slug = &ctx.tenant.slug;
    match outcome {
        Ok(_) => Ok(see_other(&invoice_page(slug, invoice.id))),
        Err(QueueError::Problems(_)) if editable(invoice).is_ok() => Ok(see_other(&format!(
            "{}?notice=fix_first",
            edit_page(slug, invoice.id)
        ))),
        Err(QueueError::Problems(problems)) => {
            // An order exists already, so the content cannot change: say what is wrong.
            let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
            let t = layout.t;
            let list: Vec<String> = problems
                .iter()
                .map(|problem| format!("{} · {}", problem.term, problem.message(t.lang)))
                .collect();
            let page = NoticePage {
                title: t.get("editor.refused_title").to_owned(),
                message: t.fill("editor.submit_problems", &[("problems", &list.join(" ; "))]),
                link: Some((
                    invoice_page(slug, invoice.id),
                    t.get("editor.to_invoice").to_owned(),
                )),
                layout,
            };
            Ok(respond(req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(QueueError::OverCreditLimit { remaining_cents }) => {
            let sentence = crate::invoices::settlements::over_limit_refusal(
                state,
                ctx,
                invoice,
                remaining_cents,
                t,
            )
            .await?;
            let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
            let page = NoticePage {
                title: layout.t.get("editor.refused_title").to_owned(),
                message: sentence,
                link: Some((
                    edit_page(slug, invoice.id),
                    layout.t.get("settlements.to_editor").to_owned(),
                )),
                layout,
            };
            Ok(respond(req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(QueueError::Refused(refusal)) => refused(state, req, ctx, invoice.id, &refusal).await,
        Err(QueueError::BuyerUnreachable { address }) => {
            let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
            let t = layout.t;
            let page = NoticePage {
                title: t.get("editor.refused_title").to_owned(),
                message: t.fill(
                    "editor.buyer_unreachable",
                    &[("buyer", &invoice.buyer_name), ("address", &address)],
                ),
                link: Some((
                    invoice_page(slug, invoice.id),
                    t.get("editor.to_invoice").to_owned(),
                )),
                layout,
            };
            Ok(respond(req, StatusCode::CONFLICT, page))
        }
        Err(QueueError::DirectoryUnavailable(error)) => {
            use portal_domain::Localized;
            let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
            let t = layout.t;
            let page = NoticePage {
                title: t.get("editor.refused_title").to_owned(),
                message: t.fill(
                    "editor.directory_unavailable",
                    &[("reason", &error.message(t.lang))],
                ),
                link: Some((
                    invoice_page(slug, invoice.id),
                    t.get("editor.to_invoice").to_owned(),
                )),
                layout,
            };
            Ok(respond(req, StatusCode::CONFLICT, page))
        }
        Err(QueueError::NotSubmittable) => {
            let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
            Ok(not_editable_page(
                req,
                ctx,
                layout,
                invoice.id,
                "editor.submit_refused",
            ))
        }
        Err(other) => Err(WebError::from_failure(other)),
    }
}

/// Sends a draft (or a failed submission) as it is stored.
pub async fn submit_invoice(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    queue_and_redirect(&state, &req, &ctx, &invoice).await
}

/// Sends a failed submission again (its order, if Billit created one, is reused).
pub async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    if let Err(refusal) = decide(
        Action::Retry,
        &portal_app::actions::without_amounts(&invoice),
    ) {
        return refused(&state, &req, &ctx, invoice.id, &refusal).await;
    }
    queue_and_redirect(&state, &req, &ctx, &invoice).await
}

pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    let deleted = AuditEntry::new("invoice.deleted", format!("invoice:{}", invoice.id))
        .by(Some(ctx.user.user.id))
        .from_ip(client_ip(&req))
        .details(serde_json::json!({
            "number": invoice.number(),
            "billit_order_id": invoice.billit_order_id,
        }));
    use portal_app::invoicing::removal::{self, DeleteError};
    use portal_domain::Localized;
    let lang = ctx.user.language();
    let sentence = match removal::delete(&state, &ctx.scope, &invoice, deleted).await {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/t/{}/invoices?deleted=1",
                ctx.tenant.slug
            )));
        }
        Err(DeleteError::NotFound) => return Err(WebError::NotFound),
        // On its way to Billit or sent: it stays, and a credit note is the way to cancel it.
        Err(DeleteError::Refused(refusal)) => {
            return refused(&state, &req, &ctx, invoice.id, &refusal).await;
        }
        Err(DeleteError::OrderSent { order_id }) => Tr::new(lang).fill(
            "editor.delete_order_sent",
            &[("order", &order_id.to_string())],
        ),
        Err(DeleteError::Billit { order_id, error }) => Tr::new(lang).fill(
            "editor.delete_billit_failed",
            &[
                ("order", &order_id.to_string()),
                ("reason", &error.message(lang)),
            ],
        ),
        Err(DeleteError::Connection { order_id, problem }) => {
            tracing::info!(problem = %problem, "no Billit connection to delete the order with");
            let t = Tr::new(lang);
            t.fill(
                "editor.delete_billit_failed",
                &[
                    ("order", &order_id.to_string()),
                    ("reason", t.get(problem.message_key())),
                ],
            )
        }
        Err(other @ DeleteError::Storage(_)) => return Err(WebError::from_failure(other)),
    };
    // Its order could not be deleted at Billit: it stays.
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let page = NoticePage {
        title: t.get("editor.refused_title").to_owned(),
        message: sentence,
        link: Some((
            invoice_page(&ctx.tenant.slug, invoice.id),
            t.get("editor.to_invoice").to_owned(),
        )),
        layout,
    };
    Ok(respond(&req, StatusCode::CONFLICT, page))
}

// ---- numbering settings ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/numbering.html")]
struct NumberingPage {
    layout: Layout,
    tenant: Tenant,
    invoice_prefix: String,
    credit_note_prefix: String,
    digits: String,
    yearly_reset: bool,
    /// The next numbers as they would look this year.
    example_invoice: String,
    example_credit_note: String,
    errors: HashMap<&'static str, String>,
    saved: bool,
}

impl NumberingPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

fn numbering_page(
    layout: Layout,
    tenant: Tenant,
    form: &NumberingForm,
    errors: HashMap<&'static str, String>,
    saved: bool,
) -> NumberingPage {
    let year = today().year();
    let example = |document_type| {
        validated(form)
            .map(|settings| settings.format(document_type, year, 1))
            .unwrap_or_default()
    };
    NumberingPage {
        example_invoice: example(DocumentType::Invoice),
        example_credit_note: example(DocumentType::CreditNote),
        layout,
        tenant,
        invoice_prefix: form.invoice_prefix.clone(),
        credit_note_prefix: form.credit_note_prefix.clone(),
        digits: form.digits.clone(),
        yearly_reset: form.yearly_reset.is_some(),
        errors,
        saved,
    }
}

pub async fn numbering(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let settings = state.invoices.numbering(&ctx.scope).await?;
    let form = NumberingForm {
        invoice_prefix: settings.invoice_prefix,
        credit_note_prefix: settings.credit_note_prefix,
        digits: settings.digits.to_string(),
        yearly_reset: settings.yearly_reset.then(|| "on".to_owned()),
    };
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let page = numbering_page(
        layout,
        ctx.tenant.clone(),
        &form,
        HashMap::new(),
        query.saved.is_some(),
    );
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct NumberingForm {
    invoice_prefix: String,
    credit_note_prefix: String,
    digits: String,
    yearly_reset: Option<String>,
}

const MAX_PREFIX: usize = 20;
const YEAR_PLACEHOLDER: &str = "{YYYY}";

/// A prefix keeps to the characters an invoice number allows (G1.05), `{YYYY}` standing for the year.
fn prefix_problem(prefix: &str) -> Option<&'static str> {
    if prefix.chars().count() > MAX_PREFIX {
        return Some("numbering.prefix_too_long");
    }
    let bare = prefix.replace(YEAR_PLACEHOLDER, "");
    if !bare
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-+_/".contains(c))
    {
        return Some("numbering.prefix_invalid");
    }
    None
}

fn validated(
    form: &NumberingForm,
) -> Result<NumberingSettings, HashMap<&'static str, &'static str>> {
    let mut errors = HashMap::new();
    for (field, prefix) in [
        ("invoice_prefix", &form.invoice_prefix),
        ("credit_note_prefix", &form.credit_note_prefix),
    ] {
        if let Some(key) = prefix_problem(prefix.trim()) {
            errors.insert(field, key);
        }
    }
    let digits = form
        .digits
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|digits| (1..=12).contains(digits));
    if digits.is_none() {
        errors.insert("digits", "numbering.digits_invalid");
    }
    if form.invoice_prefix.trim() == form.credit_note_prefix.trim() && errors.is_empty() {
        errors.insert("credit_note_prefix", "numbering.prefixes_same");
    }
    match digits {
        Some(digits) if errors.is_empty() => Ok(NumberingSettings {
            invoice_prefix: form.invoice_prefix.trim().to_owned(),
            credit_note_prefix: form.credit_note_prefix.trim().to_owned(),
            digits,
            yearly_reset: form.yearly_reset.is_some(),
        }),
        _ => Err(errors),
    }
}

pub async fn save_numbering(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<NumberingForm>,
) -> Result<HttpResponse, WebError> {
    let settings = match validated(&form) {
        Ok(settings) => settings,
        Err(errors) => {
            let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
            let t = layout.t;
            let errors = errors
                .into_iter()
                .map(|(field, key)| (field, t.get(key).to_owned()))
                .collect();
            let page = numbering_page(layout, ctx.tenant.clone(), &form, errors, false);
            return Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
        }
    };
    let changed = AuditEntry::new(
        "invoice.numbering_changed",
        format!("tenant:{}", ctx.tenant.slug),
    )
    .by(Some(ctx.user.user.id))
    .from_ip(client_ip(&req))
    .details(serde_json::json!({
        "invoice_prefix": settings.invoice_prefix,
        "credit_note_prefix": settings.credit_note_prefix,
        "digits": settings.digits,
        "yearly_reset": settings.yearly_reset,
    }));
    state
        .invoices
        .save_numbering(&ctx.scope, &settings, changed)
        .await?;
    Ok(see_other(&format!(
        "/t/{}/settings/numbering?saved=1",
        ctx.tenant.slug
    )))
}
