//! Answering a customer's 208 or 207 by email: the composer (pre-filled, previewed, sent through the outbox),
//! the retry of a failed email, and the tenant's answer templates.

use super::forms::{self as form, Action, ComposeForm, ReadError, Upload};
use crate::components::actions::{Refusal, refused_page};
use crate::components::answers::{self as answering, LoadedInvoice};
use crate::errors::{WebError, respond};
use crate::extract::{Admin, Member, TenantContext, client_ip, layout_for};
use crate::format;
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_multipart::Multipart;
use actix_web::http::StatusCode as HttpStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as AskamaTemplate;
use askama_web::WebTemplate;
use portal_app::answers::templates::{self as templates, MAX_BODY, MAX_SUBJECT, Template};
use portal_app::answers::{AttachmentProblem, SendError};
use portal_app::invoicing::files::sent_file_id;
use portal_domain::Language;
use portal_domain::identifiers::Email;
use portal_domain::lifecycle::OpenRequest;
use portal_domain::status::{StatusCode, reason_label};
use portal_persistence::audit::AuditEntry;
use portal_persistence::outbox::NewAttachment;
use portal_persistence::tenants::Tenant;
use serde::Deserialize;

/// Recipients one answer may have.
const MAX_RECIPIENTS: usize = 20;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/{id}/answer", web::get().to(compose))
        .route("/invoices/{id}/answer", web::post().to(submit))
        .route(
            "/invoices/{id}/emails/{email_id}/retry",
            web::post().to(retry),
        )
        .route("/settings/answer-templates", web::get().to(templates_page))
        .route("/settings/answer-templates", web::post().to(save_template));
}

// ---- the composer ----

#[derive(Debug, Clone)]
struct RequestView {
    title: String,
    since: String,
    reasons: Vec<String>,
    comment: Option<String>,
}

#[derive(Debug, Clone)]
struct KeptFile {
    value: String,
    label: String,
}

#[derive(Debug, Clone)]
struct PreviewView {
    from: String,
    to: String,
    cc: String,
    reply_to: String,
    subject: String,
    text: String,
    html: String,
    attachments: Vec<String>,
}

/// One message per field, and one for the whole form.
#[derive(Debug, Clone, Default)]
struct Problems {
    to: Option<String>,
    subject: Option<String>,
    body: Option<String>,
    files: Option<String>,
    general: Option<String>,
}

impl Problems {
    fn any(&self) -> bool {
        self.to.is_some()
            || self.subject.is_some()
            || self.body.is_some()
            || self.files.is_some()
            || self.general.is_some()
    }
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/invoices/answer.html")]
struct ComposePage {
    layout: Layout,
    base: String,
    number: String,
    customer: String,
    request: RequestView,
    template_note: String,
    from_line: String,
    sender_email: String,
    to: String,
    cc_me: bool,
    subject: String,
    body: String,
    attach_pdf: bool,
    has_pdf: bool,
    attach_ubl: bool,
    has_ubl: bool,
    kept: Vec<KeptFile>,
    max_uploads: String,
    problems: Problems,
    preview: Option<PreviewView>,
}

/// What the composer holds, from the defaults or from the posted form, with what is wrong with it and whether
/// to show the email as it will be sent.
struct Draft {
    to: String,
    cc_me: bool,
    subject: String,
    body: String,
    attach_pdf: bool,
    attach_ubl: bool,
    uploads: Vec<Upload>,
    problems: Problems,
    preview: bool,
}

fn request_view(request: &OpenRequest, lang: Language) -> RequestView {
    RequestView {
        title: format!("{} · {}", request.code.0, request.code.label(lang)),
        since: format::date_time(request.since, lang),
        reasons: request
            .reasons
            .iter()
            .filter(|code| !code.trim().is_empty())
            .map(|code| format!("{} — {}", code.trim(), reason_label(code, lang)))
            .collect(),
        comment: request
            .comment
            .clone()
            .filter(|comment| !comment.trim().is_empty()),
    }
}

fn build_page(
    state: &AppState,
    ctx: &TenantContext,
    layout: Layout,
    loaded: &LoadedInvoice,
    request: &OpenRequest,
    draft: Draft,
) -> ComposePage {
    let t = layout.t;
    let lang = t.lang;
    let record = &loaded.record;
    let customer_lang = answering::customer_language(record);
    let base = format!("/t/{}/invoices/{}", ctx.tenant.slug, record.id);
    let from = portal_app::answers::from_line(state, &ctx.tenant);
    let reply_to = answering::reply_to(&ctx.tenant, &ctx.user.user);
    let has_ubl = sent_file_id(&loaded.events).is_some();
    let preview = draft.preview.then(|| {
        let mut attachments: Vec<String> = Vec::new();
        if draft.attach_pdf {
            attachments.push(t.get("answers.compose.pdf_at_send").to_owned());
        }
        if draft.attach_ubl && has_ubl {
            attachments.push(t.get("answers.compose.ubl_at_send").to_owned());
        }
        attachments.extend(draft.uploads.iter().map(|upload| {
            format!(
                "{} ({}, {})",
                upload.name,
                upload.content_type,
                answering::size_label(upload.content.len(), lang)
            )
        }));
        PreviewView {
            from: from.clone(),
            to: split_addresses(&draft.to).join(", "),
            cc: if draft.cc_me {
                ctx.user.user.email.clone()
            } else {
                String::new()
            },
            reply_to: reply_to.clone(),
            subject: one_line(&draft.subject),
            text: draft.body.clone(),
            html: templates::html_fragment(&draft.body),
            attachments,
        }
    });
    ComposePage {
        base,
        number: record.draft.number.clone(),
        customer: record.buyer_name.clone(),
        request: request_view(request, lang),
        template_note: t.fill(
            "answers.compose.template_note",
            &[
                ("status", &request.code.0.to_string()),
                (
                    "language",
                    t.get(match customer_lang {
                        Language::Fr => "answers.language.fr",
                        Language::En => "answers.language.en",
                    }),
                ),
            ],
        ),
        from_line: t.fill(
            "answers.compose.from_line",
            &[("from", &from), ("reply_to", &reply_to)],
        ),
        sender_email: ctx.user.user.email.clone(),
        to: draft.to,
        cc_me: draft.cc_me,
        subject: draft.subject,
        body: draft.body,
        attach_pdf: draft.attach_pdf,
        has_pdf: record.billit_order_id.is_some(),
        attach_ubl: draft.attach_ubl,
        has_ubl,
        kept: draft
            .uploads
            .iter()
            .map(|upload| KeptFile {
                value: upload.encode(),
                label: format!(
                    "{} ({}, {})",
                    upload.name,
                    upload.content_type,
                    answering::size_label(upload.content.len(), lang)
                ),
            })
            .collect(),
        max_uploads: answering::size_label(form::MAX_UPLOADS_BYTES, lang),
        problems: draft.problems,
        preview,
        layout,
    }
}

/// Addresses separated by commas, semicolons, spaces or lines.
fn split_addresses(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The recipients, or what is wrong with them.
fn check_recipients(text: &str, t: Tr) -> Result<Vec<String>, String> {
    let parts = split_addresses(text);
    if parts.is_empty() {
        return Err(t.get("answers.error.no_recipient").to_owned());
    }
    let mut good: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for part in parts {
        match Email::parse(&part) {
            Ok(email) => {
                let email = email.as_str().to_owned();
                if !good.contains(&email) {
                    good.push(email);
                }
            }
            Err(_) => bad.push(part),
        }
    }
    if !bad.is_empty() {
        let shown: Vec<String> = bad
            .iter()
            .map(|part| part.chars().take(60).collect())
            .collect();
        return Err(t.fill(
            "answers.error.bad_recipient",
            &[("addresses", &shown.join(", "))],
        ));
    }
    if good.len() > MAX_RECIPIENTS {
        return Err(t.fill(
            "answers.error.too_many_recipients",
            &[("max", &MAX_RECIPIENTS.to_string())],
        ));
    }
    Ok(good)
}

fn check(form: &ComposeForm, t: Tr) -> (Vec<String>, Problems) {
    let mut problems = Problems::default();
    let recipients = match check_recipients(&form.to, t) {
        Ok(recipients) => recipients,
        Err(problem) => {
            problems.to = Some(problem);
            Vec::new()
        }
    };
    let subject = one_line(&form.subject);
    if subject.is_empty() {
        problems.subject = Some(t.get("answers.error.no_subject").to_owned());
    } else if subject.chars().count() > MAX_SUBJECT {
        problems.subject = Some(t.fill(
            "answers.error.subject_too_long",
            &[("max", &MAX_SUBJECT.to_string())],
        ));
    }
    if form.body.trim().is_empty() {
        problems.body = Some(t.get("answers.error.no_body").to_owned());
    } else if form.body.chars().count() > MAX_BODY {
        problems.body = Some(t.fill(
            "answers.error.body_too_long",
            &[("max", &MAX_BODY.to_string())],
        ));
    }
    if let Some(total) = form.uploads_over_limit {
        problems.files = Some(t.fill(
            "answers.error.files_too_large",
            &[
                ("size", &answering::size_label(total, t.lang)),
                (
                    "max",
                    &answering::size_label(form::MAX_UPLOADS_BYTES, t.lang),
                ),
            ],
        ));
    } else if form.too_many_files {
        problems.files = Some(t.fill(
            "answers.error.too_many_files",
            &[("max", &form::MAX_UPLOADS.to_string())],
        ));
    }
    (recipients, problems)
}

/// The composer cannot be used: the table of actions refuses an answer (no open request, any more).
async fn no_request(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    base: String,
    refusal: &Refusal,
) -> Result<HttpResponse, WebError> {
    refused_page(
        state,
        req,
        ctx,
        refusal,
        "answers.closed.title",
        (base, "answers.back"),
    )
    .await
}

async fn unreadable_form(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    status: HttpStatus,
    base: String,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let page = NoticePage {
        title: layout.t.get("answers.unreadable.title").to_owned(),
        message: layout.t.fill(
            "answers.unreadable.message",
            &[(
                "max",
                &answering::size_label(form::MAX_UPLOADS_BYTES, layout.t.lang),
            )],
        ),
        link: Some((
            format!("{base}/answer"),
            layout.t.get("answers.unreadable.again").to_owned(),
        )),
        layout,
    };
    Ok(respond(req, status, page))
}

pub async fn compose(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let loaded = answering::load_invoice(&state, &ctx, &id).await?;
    let base = format!("/t/{}/invoices/{}", ctx.tenant.slug, loaded.record.id);
    let request = match portal_app::answers::check(&loaded) {
        Ok(request) => request.clone(),
        Err(refusal) => return no_request(&state, &req, &ctx, base, &refusal).await,
    };
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let lang = answering::customer_language(&loaded.record);
    let template = answering::template_for(&state, &ctx, request.code.0, lang).await?;
    let values = answering::values_for(&loaded.record, &request, &ctx.tenant, &ctx.user.user, lang);
    let draft = Draft {
        to: loaded.record.draft.buyer.contact_emails.join(", "),
        cc_me: true,
        subject: templates::render_subject(&template.subject, &values),
        body: templates::render(&template.body, &values),
        attach_pdf: false,
        attach_ubl: false,
        uploads: Vec::new(),
        problems: Problems::default(),
        preview: false,
    };
    let page = build_page(&state, &ctx, layout, &loaded, &request, draft);
    Ok(respond(&req, HttpStatus::OK, page))
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
    mut multipart: Multipart,
) -> Result<HttpResponse, WebError> {
    let (_, id) = path.into_inner();
    let loaded = answering::load_invoice(&state, &ctx, &id).await?;
    let base = format!("/t/{}/invoices/{}", ctx.tenant.slug, loaded.record.id);
    let request = match portal_app::answers::check(&loaded) {
        Ok(request) => request.clone(),
        Err(refusal) => return no_request(&state, &req, &ctx, base, &refusal).await,
    };
    // Borrowed: the body stays unread (not discarded) while the refusal page is built.
    let posted = match form::read(&mut multipart).await {
        Ok(posted) => posted,
        Err(ReadError::TooLarge) => {
            return unreadable_form(&state, &req, &ctx, HttpStatus::PAYLOAD_TOO_LARGE, base).await;
        }
        Err(ReadError::Malformed(problem)) => {
            tracing::info!(problem, "unreadable answer form");
            return unreadable_form(&state, &req, &ctx, HttpStatus::BAD_REQUEST, base).await;
        }
    };
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let (recipients, mut problems) = check(&posted, t);
    let draft = |posted: &ComposeForm, problems: Problems, preview: bool| Draft {
        to: posted.to.clone(),
        cc_me: posted.cc_me,
        subject: posted.subject.clone(),
        body: posted.body.clone(),
        attach_pdf: posted.attach_pdf,
        attach_ubl: posted.attach_ubl,
        uploads: posted.uploads.clone(),
        problems,
        preview,
    };
    if posted.action == Action::Preview || problems.any() {
        let status = if problems.any() {
            HttpStatus::UNPROCESSABLE_ENTITY
        } else {
            HttpStatus::OK
        };
        let preview = posted.action == Action::Preview;
        let page = build_page(
            &state,
            &ctx,
            layout,
            &loaded,
            &request,
            draft(&posted, problems, preview),
        );
        return Ok(respond(&req, status, page));
    }

    let answer = portal_app::answers::Answer {
        to: recipients,
        cc_me: posted.cc_me,
        subject: posted.subject.clone(),
        body: posted.body.clone(),
        attach_pdf: posted.attach_pdf,
        attach_ubl: posted.attach_ubl,
        uploads: posted
            .uploads
            .iter()
            .map(|upload| NewAttachment {
                file_name: upload.name.clone(),
                content_type: upload.content_type.clone(),
                content: upload.content.clone(),
            })
            .collect(),
    };
    let author = portal_app::answers::Author {
        user: &ctx.user.user,
        ip: client_ip(&req),
    };
    match portal_app::answers::send(&state, &ctx.scope, &ctx.tenant, &loaded, answer, author).await
    {
        Ok(()) => Ok(see_other(&base)),
        Err(SendError::Attachments(failed)) => {
            let sentences: Vec<&str> = failed
                .iter()
                .map(|problem| t.get(attachment_problem_key(problem)))
                .collect();
            problems.general = Some(sentences.join(" "));
            let page = build_page(
                &state,
                &ctx,
                layout,
                &loaded,
                &request,
                draft(&posted, problems, false),
            );
            Ok(respond(&req, HttpStatus::BAD_GATEWAY, page))
        }
        Err(SendError::Refused(refusal)) => no_request(&state, &req, &ctx, base, &refusal).await,
        Err(SendError::UnknownRecipients(unknown)) => {
            problems.to = Some(t.fill(
                "answers.error.unknown_recipients",
                &[("addresses", &unknown.join(", "))],
            ));
            let page = build_page(
                &state,
                &ctx,
                layout,
                &loaded,
                &request,
                draft(&posted, problems, false),
            );
            Ok(respond(&req, HttpStatus::UNPROCESSABLE_ENTITY, page))
        }
        Err(SendError::HourlyLimit { limit }) => {
            problems.general =
                Some(t.fill("answers.error.hourly_limit", &[("max", &limit.to_string())]));
            let page = build_page(
                &state,
                &ctx,
                layout,
                &loaded,
                &request,
                draft(&posted, problems, false),
            );
            Ok(respond(&req, HttpStatus::TOO_MANY_REQUESTS, page))
        }
        Err(other) => Err(WebError::from_failure(other)),
    }
}

/// What to tell the person when one of Billit's files could not be attached.
fn attachment_problem_key(problem: &AttachmentProblem) -> &'static str {
    match problem {
        AttachmentProblem::NoUbl => "answers.error.no_ubl",
        AttachmentProblem::NotConfigured => "answers.error.billit_not_configured",
        AttachmentProblem::NotFound => "answers.error.billit_no_file",
        AttachmentProblem::Billit => "answers.error.billit_failed",
    }
}

pub async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, id, email_id) = path.into_inner();
    let loaded = answering::load_invoice(&state, &ctx, &id).await?;
    let email_id = uuid::Uuid::parse_str(&email_id).map_err(|_| WebError::NotFound)?;
    let base = format!("/t/{}/invoices/{}", ctx.tenant.slug, loaded.record.id);
    let author = portal_app::answers::Author {
        user: &ctx.user.user,
        ip: client_ip(&req),
    };
    portal_app::answers::retry(&state, &ctx.scope, loaded.record.id, email_id, author)
        .await
        .map_err(WebError::from_failure)?;
    Ok(see_other(&base))
}

// ---- the tenant's templates ----

#[derive(Debug, Clone)]
struct SlotView {
    status: u16,
    language: &'static str,
    title: String,
    subject: String,
    body: String,
    default_subject: String,
    default_body: String,
    customised: bool,
    updated_at: Option<String>,
    error: Option<String>,
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/settings/answer_templates.html")]
struct TemplatesPage {
    layout: Layout,
    tenant: Tenant,
    slots: Vec<SlotView>,
    placeholders: Vec<(String, String)>,
    saved: bool,
}

async fn templates_view(
    state: &AppState,
    ctx: &TenantContext,
    t: Tr,
    typed: Option<(u16, Language, Template, String)>,
) -> Result<Vec<SlotView>, WebError> {
    let stored = state.answer_templates.clone().all(&ctx.scope).await?;
    let mut slots = Vec::new();
    for status in templates::ANSWERED_STATUSES {
        for lang in [Language::Fr, Language::En] {
            let default = templates::default_template(status, lang);
            let custom = stored
                .iter()
                .find(|template| template.status == status && template.language == lang);
            let (subject, body, error) = match &typed {
                Some((typed_status, typed_lang, template, error))
                    if *typed_status == status && *typed_lang == lang =>
                {
                    (
                        template.subject.clone(),
                        template.body.clone(),
                        Some(error.clone()),
                    )
                }
                _ => match custom {
                    Some(custom) => (custom.subject.clone(), custom.body.clone(), None),
                    None => (default.subject.clone(), default.body.clone(), None),
                },
            };
            slots.push(SlotView {
                status,
                language: lang.code(),
                title: format!(
                    "{} · {} — {}",
                    status,
                    StatusCode(status).label(t.lang),
                    t.get(match lang {
                        Language::Fr => "answers.language.fr",
                        Language::En => "answers.language.en",
                    })
                ),
                subject,
                body,
                default_subject: default.subject,
                default_body: default.body,
                customised: custom.is_some(),
                updated_at: custom.map(|custom| format::date_time(custom.updated_at, t.lang)),
                error,
            });
        }
    }
    Ok(slots)
}

fn placeholder_help(t: Tr) -> Vec<(String, String)> {
    templates::PLACEHOLDERS
        .iter()
        .map(|(name, fr, en)| (format!("{{{name}}}"), t.lang.pick(fr, en).to_owned()))
        .collect()
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn templates_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let page = TemplatesPage {
        slots: templates_view(&state, &ctx, t, None).await?,
        placeholders: placeholder_help(t),
        saved: query.saved.is_some(),
        tenant: ctx.tenant.clone(),
        layout,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

#[derive(Deserialize)]
pub struct TemplateForm {
    status: String,
    language: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    action: String,
}

pub async fn save_template(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<TemplateForm>,
) -> Result<HttpResponse, WebError> {
    let status = form
        .status
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|status| templates::ANSWERED_STATUSES.contains(status))
        .ok_or(WebError::NotFound)?;
    let lang = Language::parse(&form.language)
        .filter(|lang| lang.code() == form.language.trim())
        .ok_or(WebError::NotFound)?;
    let repository = state.answer_templates.clone();
    let slot = format!("#template-{status}-{}", lang.code());
    let back = format!(
        "/t/{}/settings/answer-templates?saved=1{slot}",
        ctx.tenant.slug
    );
    let audit = |action: &'static str| {
        AuditEntry::new(action, format!("tenant:{}", ctx.tenant.slug))
            .by(Some(ctx.user.user.id))
            .from_ip(client_ip(&req))
            .details(serde_json::json!({ "status": status, "language": lang.code() }))
    };
    if form.action == "reset" {
        repository
            .reset(
                &ctx.scope,
                status,
                lang,
                audit("tenant.answer_template_reset"),
            )
            .await?;
        return Ok(see_other(&back));
    }
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let typed = Template {
        subject: one_line(&form.subject),
        body: form.body.replace("\r\n", "\n").trim().to_owned(),
    };
    let problem = if typed.subject.is_empty() || typed.body.is_empty() {
        Some(t.get("answers.templates.error.empty").to_owned())
    } else if typed.subject.chars().count() > MAX_SUBJECT || typed.body.chars().count() > MAX_BODY {
        Some(t.fill(
            "answers.templates.error.too_long",
            &[
                ("subject", &MAX_SUBJECT.to_string()),
                ("body", &MAX_BODY.to_string()),
            ],
        ))
    } else {
        let unknown = templates::unknown_placeholders(&typed);
        (!unknown.is_empty()).then(|| {
            t.fill(
                "answers.templates.error.unknown",
                &[("names", &unknown.join(", "))],
            )
        })
    };
    if let Some(problem) = problem {
        let page = TemplatesPage {
            slots: templates_view(&state, &ctx, t, Some((status, lang, typed, problem))).await?,
            placeholders: placeholder_help(t),
            saved: false,
            tenant: ctx.tenant.clone(),
            layout,
        };
        return Ok(respond(&req, HttpStatus::UNPROCESSABLE_ENTITY, page));
    }
    repository
        .save(
            &ctx.scope,
            status,
            lang,
            &typed.subject,
            &typed.body,
            audit("tenant.answer_template_changed"),
        )
        .await?;
    Ok(see_other(&back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_checked_one_by_one() {
        let t = Tr::new(Language::En);
        assert_eq!(
            check_recipients("a@x.fr; B@Y.FR,\n a@x.fr", t),
            Ok(vec!["a@x.fr".to_owned(), "B@y.fr".to_owned()])
        );
        let bad = check_recipients("a@x.fr, not-an-address", t).unwrap_err();
        assert!(bad.contains("not-an-address"), "{bad}");
        assert!(check_recipients("  ", t).is_err());
    }
}
