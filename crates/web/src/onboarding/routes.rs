//! Bulk onboarding of companies (`/firm/companies/import`): the upload form and its template, the preview of
//! every row with its problems, and the confirmation that creates the valid ones and reports on every row.
//!
//! Nothing is kept on the server between the preview and the confirmation: the preview's form carries the file
//! back (base64) with a MAC under the master key, so the confirmation applies exactly the file that was
//! previewed, checked again against the companies as they are then.

use crate::emails;
use crate::errors::{WebError, respond};
use crate::extract::{FirmAdmin, client_ip, layout_for};
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use portal_app::crypto;
use portal_app::firm_console::onboarding::{
    self, Applier, FileProblem, MAX_UPLOAD_BYTES, PlannedRow,
};
use portal_persistence::TenantRole;
use serde::Deserialize;

/// The MAC's purpose: a tag made for the onboarding preview is good for nothing else.
const MAC_PURPOSE: &str = "onboarding-file";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/firm/companies/import", web::get().to(upload_form))
        .route("/firm/companies/import", web::post().to(preview))
        .route(
            "/firm/companies/import/template.csv",
            web::get().to(template),
        )
        .route("/firm/companies/import/confirm", web::post().to(confirm));
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/console/import.html")]
struct UploadPage {
    layout: Layout,
    error: Option<String>,
    columns: &'static [&'static str],
}

/// A row as the preview and the report show it.
struct RowView {
    line: usize,
    name: String,
    siren: String,
    admin_email: String,
    admin_name: String,
    party_id: String,
    /// The accountant's email and the role they will hold (or typed, when it is wrong).
    accountant: String,
    problems: Vec<String>,
    /// The company's slug, once created.
    slug: Option<String>,
    /// Once created: whose portfolio it went into.
    portfolio_note: Option<String>,
}

fn view(row: &PlannedRow, t: Tr, slug: Option<String>) -> RowView {
    let role_word = |role: TenantRole| match role {
        TenantRole::Admin => t.get("firm.staff.role_admin"),
        _ => t.get("firm.staff.role_member"),
    };
    let email = row.accountant_email.clone().unwrap_or_default();
    let accountant = match row.portfolio {
        Some((_, role)) => t.fill(
            "onboarding.portfolio_planned",
            &[("email", &email), ("role", role_word(role))],
        ),
        None if row.accountant_unknown => {
            t.fill("onboarding.accountant_unknown", &[("email", &email)])
        }
        None if row.accountant_role.is_empty() => email.clone(),
        None => format!("{email} ({})", row.accountant_role),
    };
    // Once created, the report says whose portfolio the company went into (or why none).
    let portfolio_note = match (&slug, row.portfolio) {
        (None, _) => None,
        (Some(_), Some((_, role))) => Some(t.fill(
            "onboarding.portfolio",
            &[("email", &email), ("role", role_word(role))],
        )),
        (Some(_), None) if row.accountant_unknown => {
            Some(t.fill("onboarding.not_in_portfolio", &[("email", &email)]))
        }
        (Some(_), None) => None,
    };
    RowView {
        accountant,
        portfolio_note,
        line: row.line,
        name: row.name.clone(),
        siren: row.siren.clone(),
        admin_email: row.admin_email.clone(),
        admin_name: row.admin_name.clone(),
        party_id: row.party_id.clone(),
        problems: row
            .problems
            .iter()
            .map(|problem| problem.message(&t))
            .collect(),
        slug,
    }
}

/// A table of rows: the preview's one, or the report's created and skipped.
struct Section {
    id: &'static str,
    caption: String,
    /// What the last column says of a row without problems.
    ok_word: String,
    /// What is said instead of an empty table.
    empty: String,
    rows: Vec<RowView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/console/import_preview.html")]
struct PreviewPage {
    layout: Layout,
    summary: String,
    confirm_label: String,
    valid: usize,
    sections: Vec<Section>,
    content: String,
    mac: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/console/import_report.html")]
struct ReportPage {
    layout: Layout,
    summary: String,
    sections: Vec<Section>,
}

pub async fn upload_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
) -> Result<HttpResponse, WebError> {
    let page = UploadPage {
        layout: layout_for(&state, &req, &admin.0, None).await?,
        error: None,
        columns: &onboarding::COLUMNS,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

pub async fn template(_admin: FirmAdmin) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"entreprises.csv\"",
        ))
        .body(onboarding::template_csv())
}

/// The uploaded file's bytes (the `file` part), or why there is none to read.
async fn read_file(mut multipart: Multipart) -> Result<Vec<u8>, FileProblem> {
    let mut file = None;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|error| FileProblem::Unreadable(error.to_string()))?;
        let is_file = field.name() == Some("file");
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|error| FileProblem::Unreadable(error.to_string()))?;
            if is_file {
                if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
                    return Err(FileProblem::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
        }
        if is_file {
            file = Some(bytes);
        }
    }
    file.filter(|bytes| !bytes.is_empty())
        .ok_or(FileProblem::Empty)
}

async fn refuse_file(
    state: &AppState,
    req: &HttpRequest,
    admin: &FirmAdmin,
    problem: &FileProblem,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &admin.0, None).await?;
    if let FileProblem::Unreadable(detail) = problem {
        tracing::info!(detail = %detail, "an onboarding file could not be read");
    }
    let page = UploadPage {
        error: Some(problem.message(&layout.t)),
        layout,
        columns: &onboarding::COLUMNS,
    };
    Ok(respond(req, StatusCode::UNPROCESSABLE_ENTITY, page))
}

pub async fn preview(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    multipart: Multipart,
) -> Result<HttpResponse, WebError> {
    let text = match read_file(multipart)
        .await
        .and_then(|bytes| onboarding::decode(&bytes))
    {
        Ok(text) => text,
        Err(problem) => return refuse_file(&state, &req, &admin, &problem).await,
    };
    let plan = match onboarding::plan(&state.app, &text).await? {
        Ok(plan) => plan,
        Err(problem) => return refuse_file(&state, &req, &admin, &problem).await,
    };
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let t = layout.t;
    let content = URL_SAFE_NO_PAD.encode(text.as_bytes());
    let (valid, invalid) = (plan.valid(), plan.invalid());
    let page = PreviewPage {
        summary: t.fill(
            "onboarding.summary",
            &[
                ("valid", &valid.to_string()),
                ("invalid", &invalid.to_string()),
            ],
        ),
        confirm_label: t.fill("onboarding.confirm", &[("count", &valid.to_string())]),
        valid,
        sections: vec![Section {
            id: "import-preview",
            caption: t.get("onboarding.preview_caption").to_owned(),
            ok_word: t.get("onboarding.row_ok").to_owned(),
            empty: String::new(),
            rows: plan.rows.iter().map(|row| view(row, t, None)).collect(),
        }],
        mac: crypto::tag(&state.master_key, MAC_PURPOSE, &content),
        content,
        layout,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    content: String,
    mac: String,
}

pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    admin: FirmAdmin,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    // A file the preview did not make (or altered on the way) is refused like an unreadable one.
    let text = if crypto::verify_tag(&state.master_key, MAC_PURPOSE, &form.content, &form.mac) {
        URL_SAFE_NO_PAD
            .decode(form.content.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    } else {
        None
    };
    let Some(text) = text else {
        tracing::warn!("an onboarding confirmation without a valid MAC was refused");
        let problem = FileProblem::Unreadable("MAC".to_owned());
        return refuse_file(&state, &req, &admin, &problem).await;
    };
    let applier = Applier {
        user: admin.0.user.id,
        ip: client_ip(&req),
    };
    // The companies are French: their first administrators are invited in French (they choose later).
    let lang = portal_domain::Language::default();
    let email_for = |tenant: &portal_persistence::tenants::Tenant, to: &str, token: &str| {
        emails::invitation(&state, lang, to, &tenant.legal_name, token)
            .map_err(|error| error.to_string())
    };
    let report = match onboarding::apply(&state.app, &text, &applier, email_for).await? {
        Ok(report) => report,
        Err(problem) => return refuse_file(&state, &req, &admin, &problem).await,
    };
    let layout = layout_for(&state, &req, &admin.0, None).await?;
    let t = layout.t;
    let page = ReportPage {
        summary: t.fill(
            "onboarding.report_summary",
            &[
                ("created", &report.created.len().to_string()),
                ("skipped", &report.skipped.len().to_string()),
            ],
        ),
        sections: vec![
            Section {
                id: "import-created",
                caption: t.get("onboarding.created").to_owned(),
                ok_word: t.get("onboarding.row_created").to_owned(),
                empty: t.get("onboarding.none_created").to_owned(),
                rows: report
                    .created
                    .iter()
                    .map(|(row, tenant)| view(row, t, Some(tenant.slug.clone())))
                    .collect(),
            },
            Section {
                id: "import-skipped",
                caption: t.get("onboarding.skipped").to_owned(),
                ok_word: String::new(),
                empty: t.get("onboarding.none_skipped").to_owned(),
                rows: report
                    .skipped
                    .iter()
                    .map(|row| view(row, t, None))
                    .collect(),
            },
        ],
        layout,
    };
    Ok(respond(&req, StatusCode::OK, page))
}
