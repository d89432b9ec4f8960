//! Reminders (relances) of unpaid invoices: the company's "reminders due" list (members send or skip each one;
//! viewers read), checking now, and the admins' settings (on/off, automatic sending, the schedule, the FR/EN
//! wording).

use crate::errors::{WebError, respond};
use crate::extract::{Admin, Member, TenantContext, client_ip, layout_for};
use crate::format;
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_web::http::StatusCode as HttpStatus;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template as AskamaTemplate;
use askama_web::WebTemplate;
use portal_app::reminders::templates::{self as templates, MAX_BODY, MAX_SUBJECT, Template};
use portal_app::reminders::{self as reminding, Actor, SendError, SettingsInput, SkipError};
use portal_domain::Language;
use portal_domain::reminders::Schedule;
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::tenants::Tenant;
use serde::Deserialize;
use uuid::Uuid;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reminders", web::get().to(due_page))
        .route("/reminders/check", web::post().to(check_now))
        .route("/reminders/{id}/send", web::post().to(send))
        .route("/reminders/{id}/skip", web::post().to(skip))
        .route("/settings/reminders", web::get().to(settings_page))
        .route("/settings/reminders", web::post().to(save_settings))
        .route(
            "/settings/reminders/templates",
            web::post().to(save_template),
        );
}

// ---- the reminders due ----

#[derive(Debug, Clone)]
struct DueView {
    id: Uuid,
    number: String,
    invoice_href: String,
    customer: String,
    step: String,
    due_on: String,
    due_date: String,
    remaining: String,
    hold: Option<String>,
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/reminders/due.html")]
struct DuePage {
    layout: Layout,
    slug: String,
    enabled: bool,
    automatic: bool,
    schedule: String,
    can_act: bool,
    is_admin: bool,
    rows: Vec<DueView>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn step_label(step: u16, t: Tr) -> String {
    t.fill("reminders.step", &[("days", &step.to_string())])
}

pub async fn due_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let settings = state.reminders.settings(&ctx.scope).await?;
    let rows = reminding::due_list(&state, &ctx.scope)
        .await?
        .into_iter()
        .map(|row| {
            let due = row.due;
            DueView {
                id: due.reminder.id,
                number: due.number.clone().unwrap_or_else(|| "—".to_owned()),
                invoice_href: format!("/t/{}/invoices/{}", ctx.tenant.slug, due.reminder.invoice),
                customer: due.buyer_name.clone(),
                step: step_label(due.reminder.step, t),
                due_on: format::date(due.reminder.due_on, t.lang),
                due_date: format::date_or_dash(due.due_date, t.lang),
                remaining: format::amount_cents(
                    (due.total_incl_cents - due.amount_paid_cents).max(0),
                    "EUR",
                    t.lang,
                ),
                hold: row.hold.map(|hold| hold.label(t.lang)),
            }
        })
        .collect();
    let notice = match query.notice.as_deref() {
        Some("sent") => Some(t.get("reminders.notice.sent").to_owned()),
        Some("skipped") => Some(t.get("reminders.notice.skipped").to_owned()),
        Some("checked") => Some(t.get("reminders.notice.checked").to_owned()),
        _ => None,
    };
    let page = DuePage {
        slug: ctx.tenant.slug.clone(),
        enabled: settings.enabled,
        automatic: settings.automatic,
        schedule: settings.schedule.to_text(),
        can_act: ctx.scope.allows(TenantRole::Member),
        is_admin: ctx.scope.allows(TenantRole::Admin),
        rows,
        notice,
        layout,
    };
    Ok(respond(&req, HttpStatus::OK, page))
}

/// Checks the company's invoices now instead of waiting for the hourly check.
pub async fn check_now(
    state: web::Data<AppState>,
    Member(ctx): Member,
) -> Result<HttpResponse, WebError> {
    reminding::check_tenant(&state, &ctx.scope, portal_app::dates::today()).await?;
    Ok(see_other(&format!(
        "/t/{}/reminders?notice=checked",
        ctx.tenant.slug
    )))
}

fn reminder_id(path: &(String, String)) -> Result<Uuid, WebError> {
    Uuid::parse_str(path.1.trim()).map_err(|_| WebError::NotFound)
}

async fn refusal(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    message: String,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let page = NoticePage {
        title: t.get("reminders.refused_title").to_owned(),
        message,
        link: Some((
            format!("/t/{}/reminders", ctx.tenant.slug),
            t.get("reminders.back").to_owned(),
        )),
        layout,
    };
    Ok(respond(req, HttpStatus::CONFLICT, page))
}

pub async fn send(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = reminder_id(&path)?;
    let actor = Actor {
        user: &ctx.user.user,
        ip: client_ip(&req),
    };
    let t = Tr::new(ctx.user.language());
    match reminding::send(&state, &ctx.scope, id, Some(actor)).await {
        Ok(()) => Ok(see_other(&format!(
            "/t/{}/reminders?notice=sent",
            ctx.tenant.slug
        ))),
        Err(SendError::Held(hold)) => refusal(&state, &req, &ctx, hold.label(t.lang)).await,
        Err(SendError::NotDue) => {
            refusal(
                &state,
                &req,
                &ctx,
                t.get("reminders.error.not_due").to_owned(),
            )
            .await
        }
        Err(SendError::NoRecipients) => {
            refusal(
                &state,
                &req,
                &ctx,
                t.get("reminders.error.no_recipients").to_owned(),
            )
            .await
        }
        Err(SendError::Attachment(_)) => {
            refusal(&state, &req, &ctx, t.get("reminders.error.pdf").to_owned()).await
        }
        Err(error) => Err(WebError::from_failure(error)),
    }
}

pub async fn skip(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = reminder_id(&path)?;
    let actor = Actor {
        user: &ctx.user.user,
        ip: client_ip(&req),
    };
    match reminding::skip(&state, &ctx.scope, id, actor).await {
        Ok(()) => Ok(see_other(&format!(
            "/t/{}/reminders?notice=skipped",
            ctx.tenant.slug
        ))),
        Err(SkipError::NotDue) => {
            let t = Tr::new(ctx.user.language());
            refusal(
                &state,
                &req,
                &ctx,
                t.get("reminders.error.not_due").to_owned(),
            )
            .await
        }
        Err(error) => Err(WebError::from_failure(error)),
    }
}

// ---- the settings ----

#[derive(Debug, Clone)]
struct SlotView {
    language: &'static str,
    title: String,
    subject: String,
    body: String,
    default_subject: String,
    default_body: String,
    customised: bool,
    error: Option<String>,
}

#[derive(AskamaTemplate, WebTemplate)]
#[template(path = "pages/settings/reminders.html")]
struct SettingsPage {
    layout: Layout,
    tenant: Tenant,
    enabled: bool,
    automatic: bool,
    schedule: String,
    schedule_error: Option<String>,
    slots: Vec<SlotView>,
    placeholders: Vec<(String, String)>,
    saved: bool,
}

/// What was typed and refused, shown again.
enum Typed {
    Nothing,
    Settings {
        enabled: bool,
        automatic: bool,
        schedule: String,
        error: String,
    },
    Template {
        language: Language,
        template: Template,
        error: String,
    },
}

async fn settings_view(
    state: &AppState,
    ctx: &TenantContext,
    layout: Layout,
    typed: Typed,
    saved: bool,
) -> Result<SettingsPage, WebError> {
    let t = layout.t;
    let settings = state.reminders.settings(&ctx.scope).await?;
    let stored = state.reminders.templates(&ctx.scope).await?;
    let mut slots = Vec::new();
    for lang in [Language::Fr, Language::En] {
        let default = templates::default_template(lang);
        let custom = stored.iter().find(|template| template.language == lang);
        let (subject, body, error) = match &typed {
            Typed::Template {
                language,
                template,
                error,
            } if *language == lang => (
                template.subject.clone(),
                template.body.clone(),
                Some(error.clone()),
            ),
            _ => match custom {
                Some(custom) => (custom.subject.clone(), custom.body.clone(), None),
                None => (default.subject.clone(), default.body.clone(), None),
            },
        };
        slots.push(SlotView {
            language: lang.code(),
            title: t
                .get(match lang {
                    Language::Fr => "answers.language.fr",
                    Language::En => "answers.language.en",
                })
                .to_owned(),
            subject,
            body,
            default_subject: default.subject,
            default_body: default.body,
            customised: custom.is_some(),
            error,
        });
    }
    let (enabled, automatic, schedule, schedule_error) = match typed {
        Typed::Settings {
            enabled,
            automatic,
            schedule,
            error,
        } => (enabled, automatic, schedule, Some(error)),
        _ => (
            settings.enabled,
            settings.automatic,
            settings.schedule.to_text(),
            None,
        ),
    };
    Ok(SettingsPage {
        tenant: ctx.tenant.clone(),
        enabled,
        automatic,
        schedule,
        schedule_error,
        slots,
        placeholders: templates::PLACEHOLDERS
            .iter()
            .map(|(name, fr, en)| (format!("{{{name}}}"), t.lang.pick(fr, en).to_owned()))
            .collect(),
        saved,
        layout,
    })
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn settings_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<SavedQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let page = settings_view(&state, &ctx, layout, Typed::Nothing, query.saved.is_some()).await?;
    Ok(respond(&req, HttpStatus::OK, page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    enabled: String,
    automatic: String,
    schedule: String,
}

pub async fn save_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<SettingsForm>,
) -> Result<HttpResponse, WebError> {
    let enabled = !form.enabled.trim().is_empty();
    let automatic = !form.automatic.trim().is_empty();
    match Schedule::parse(&form.schedule) {
        Ok(schedule) => {
            let actor = Actor {
                user: &ctx.user.user,
                ip: client_ip(&req),
            };
            reminding::save_settings(
                &state,
                &ctx.scope,
                SettingsInput {
                    enabled,
                    automatic,
                    schedule,
                },
                actor,
            )
            .await?;
            Ok(see_other(&format!(
                "/t/{}/settings/reminders?saved=1",
                ctx.tenant.slug
            )))
        }
        Err(error) => {
            let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
            let message = error.label(layout.t.lang);
            let typed = Typed::Settings {
                enabled,
                automatic,
                schedule: form.schedule.clone(),
                error: message,
            };
            let page = settings_view(&state, &ctx, layout, typed, false).await?;
            Ok(respond(&req, HttpStatus::UNPROCESSABLE_ENTITY, page))
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TemplateForm {
    language: String,
    subject: String,
    body: String,
    action: String,
}

pub async fn save_template(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<TemplateForm>,
) -> Result<HttpResponse, WebError> {
    let lang = Language::parse(&form.language)
        .filter(|lang| lang.code() == form.language.trim())
        .ok_or(WebError::NotFound)?;
    let back = format!(
        "/t/{}/settings/reminders?saved=1#template-{}",
        ctx.tenant.slug,
        lang.code()
    );
    let audit = |action: &'static str| {
        AuditEntry::new(action, format!("tenant:{}", ctx.tenant.slug))
            .by(Some(ctx.user.user.id))
            .from_ip(client_ip(&req))
            .details(serde_json::json!({ "language": lang.code() }))
    };
    if form.action == "reset" {
        state
            .reminders
            .reset_template(&ctx.scope, lang, audit("tenant.reminder_template_reset"))
            .await?;
        return Ok(see_other(&back));
    }
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let typed = Template {
        subject: form
            .subject
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
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
    if let Some(error) = problem {
        let typed = Typed::Template {
            language: lang,
            template: typed,
            error,
        };
        let page = settings_view(&state, &ctx, layout, typed, false).await?;
        return Ok(respond(&req, HttpStatus::UNPROCESSABLE_ENTITY, page));
    }
    state
        .reminders
        .save_template(
            &ctx.scope,
            lang,
            &typed.subject,
            &typed.body,
            audit("tenant.reminder_template_changed"),
        )
        .await?;
    Ok(see_other(&back))
}
