//! Importing customers from a CSV file: upload → a preview of every row (created, already a customer, or its
//! problems in words) → confirm. Nothing is written before the confirmation; the confirmation reads the same
//! file again (kept in the preview's form) and checks everything again. A row whose electronic address, or SIREN
//! with the same SIRET, is a customer already is left out, so the same file imported twice creates nothing the
//! second time.

use super::forms::{CustomerForm, FieldErrors};
use crate::errors::{WebError, respond};
use crate::extract::{Member, TenantContext, client_ip, layout_for};
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use futures_util::StreamExt;
use portal_app::spreadsheet::{self, MAX_BYTES, ReadProblem};
use portal_persistence::audit::AuditEntry;
use portal_persistence::customers::CustomerInput;
use portal_persistence::tenants::Tenant;

/// The columns understood, by the names a spreadsheet may give them (compared without case, accents, `_` or `-`).
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "legal_name",
        &[
            "raison sociale",
            "nom",
            "name",
            "legal name",
            "societe",
            "company",
        ],
    ),
    ("siren", &["siren"]),
    ("siret", &["siret"]),
    (
        "vat_number",
        &[
            "tva",
            "numero de tva",
            "n tva",
            "vat",
            "vat number",
            "tva intracommunautaire",
        ],
    ),
    (
        "electronic_address",
        &[
            "adresse electronique",
            "electronic address",
            "peppol",
            "adresse de facturation electronique",
        ],
    ),
    (
        "contact_emails",
        &[
            "email",
            "emails",
            "e mail",
            "e mails",
            "courriel",
            "contact emails",
            "contact",
        ],
    ),
    ("street", &["adresse", "rue", "street", "address"]),
    (
        "additional",
        &["complement", "complement d adresse", "additional"],
    ),
    (
        "postcode",
        &["code postal", "cp", "postcode", "zip", "postal code"],
    ),
    ("city", &["ville", "city"]),
    ("country", &["pays", "country"]),
    ("language", &["langue", "language"]),
];

/// A header as compared: lower case, without accents, `_`, `-`, `’` or `'`, single spaces.
fn normalized(header: &str) -> String {
    let plain: String = header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'à' | 'â' | 'ä' => 'a',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            '_' | '-' | '\'' | '’' | '°' | '.' => ' ',
            other => other,
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn column_of(header: &str) -> Option<&'static str> {
    let header = normalized(header);
    COLUMNS
        .iter()
        .find(|(field, names)| header == normalized(field) || names.contains(&header.as_str()))
        .map(|(field, _)| *field)
}

/// What becomes of a row.
enum Outcome {
    Create(Box<CustomerInput>),
    /// A customer already has its electronic address, or its SIREN and SIRET.
    Known,
    /// An earlier row of the file is the same customer.
    Repeated(u64),
    Problems(Vec<String>),
}

struct Row {
    line: u64,
    name: String,
    siren: String,
    outcome: Outcome,
}

/// Why the file as a whole is refused.
enum FileProblem {
    Read(ReadProblem),
    MissingColumns,
    NoFile,
}

fn field_problems(errors: &FieldErrors, t: Tr) -> Vec<String> {
    [
        ("customers.field.legal_name", &errors.legal_name),
        ("csv.siren", &errors.siren),
        ("customers.field.siret", &errors.siret),
        ("customers.field.vat_number", &errors.vat_number),
        (
            "customers.field.electronic_address",
            &errors.electronic_address,
        ),
        ("customers.field.contact_emails", &errors.contact_emails),
        ("customers.field.street", &errors.street),
        ("customers.field.additional", &errors.additional),
        ("customers.field.postcode", &errors.postcode),
        ("customers.field.city", &errors.city),
        ("customers.field.country", &errors.country),
        ("customers.field.language", &errors.language),
    ]
    .into_iter()
    .filter_map(|(label, error)| {
        error
            .as_ref()
            .map(|error| format!("{} : {error}", t.get(label)))
    })
    .collect()
}

/// Reads and checks every row, and finds those that are customers already (one query per 400 rows).
async fn check(
    state: &AppState,
    ctx: &TenantContext,
    bytes: &[u8],
    t: Tr,
) -> Result<Vec<Row>, FileProblem> {
    let table = spreadsheet::read(bytes).map_err(FileProblem::Read)?;
    let columns: Vec<Option<&str>> = table.headers.iter().map(|h| column_of(h)).collect();
    if !columns.contains(&Some("legal_name")) || !columns.contains(&Some("siren")) {
        return Err(FileProblem::MissingColumns);
    }
    let mut rows = Vec::with_capacity(table.rows.len());
    for (line, values) in table.rows {
        let mut form = CustomerForm::blank();
        for (column, value) in columns.iter().zip(values.iter()) {
            let value = value.trim().to_owned();
            match column {
                Some("legal_name") => form.legal_name = value,
                Some("siren") => form.siren = value,
                Some("siret") => form.siret = value,
                Some("vat_number") => form.vat_number = value,
                Some("electronic_address") => form.electronic_address = value,
                Some("contact_emails") => form.contact_emails = value,
                Some("street") => form.street = value,
                Some("additional") => form.additional = value,
                Some("postcode") => form.postcode = value,
                Some("city") => form.city = value,
                Some("country") if !value.is_empty() => form.country = value,
                Some("language") if !value.is_empty() => form.language = value.to_lowercase(),
                _ => {}
            }
        }
        let outcome = match form.validate(t) {
            Ok(input) => Outcome::Create(Box::new(input)),
            Err(errors) => Outcome::Problems(field_problems(&errors, t)),
        };
        rows.push(Row {
            line,
            name: form.legal_name.trim().to_owned(),
            siren: form.siren.trim().to_owned(),
            outcome,
        });
    }
    let mut sirens = Vec::new();
    let mut addresses = Vec::new();
    for row in &rows {
        if let Outcome::Create(input) = &row.outcome {
            sirens.push(input.siren.as_string());
            addresses.push(input.electronic_address.to_string());
        }
    }
    let known = state
        .customers
        .known_identities(&ctx.scope, &sirens, &addresses)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "customers could not be looked up");
            FileProblem::Read(ReadProblem::Malformed)
        })?;
    let mut seen: Vec<(String, Option<String>, String, u64)> = Vec::new();
    for row in &mut rows {
        let Outcome::Create(input) = &row.outcome else {
            continue;
        };
        let siren = input.siren.as_string();
        let siret = input.siret.map(|siret| siret.as_string());
        let address = input.electronic_address.to_string();
        let same =
            |(known_siren, known_siret, known_address): (&String, &Option<String>, &String)| {
                *known_address == address || (*known_siren == siren && *known_siret == siret)
            };
        if known.iter().any(|(a, b, c)| same((a, b, c))) {
            row.outcome = Outcome::Known;
        } else if let Some((_, _, _, first)) = seen.iter().find(|(a, b, c, _)| same((a, b, c))) {
            row.outcome = Outcome::Repeated(*first);
        } else {
            seen.push((siren, siret, address, row.line));
        }
    }
    Ok(rows)
}

struct RowView {
    line: u64,
    name: String,
    siren: String,
    outcome: String,
    problems: Vec<String>,
    creates: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/customers/import.html")]
struct ImportPage {
    layout: Layout,
    tenant: Tenant,
    rows: Vec<RowView>,
    /// The file, kept for the confirmation.
    content: String,
    to_create: usize,
    /// How many rows will be created, left out as known, refused.
    summary: String,
    confirm_label: String,
    error: Option<String>,
    /// After a confirmation: how many were created, in words.
    created: Option<String>,
}

fn views(rows: &[Row], t: Tr) -> Vec<RowView> {
    rows.iter()
        .map(|row| {
            let (outcome, problems, creates) = match &row.outcome {
                Outcome::Create(_) => {
                    (t.get("csv.import.will_create").to_owned(), Vec::new(), true)
                }
                Outcome::Known => (t.get("csv.import.known").to_owned(), Vec::new(), false),
                Outcome::Repeated(first) => (
                    t.fill("csv.import.repeated", &[("line", &first.to_string())]),
                    Vec::new(),
                    false,
                ),
                Outcome::Problems(problems) => (
                    t.get("csv.import.problems").to_owned(),
                    problems.clone(),
                    false,
                ),
            };
            RowView {
                line: row.line,
                name: row.name.clone(),
                siren: row.siren.clone(),
                outcome,
                problems,
                creates,
            }
        })
        .collect()
}

fn page(
    layout: Layout,
    ctx: &TenantContext,
    rows: &[Row],
    content: String,
    error: Option<String>,
    created: Option<usize>,
) -> ImportPage {
    let t = layout.t;
    let count =
        |wanted: fn(&Outcome) -> bool| rows.iter().filter(|row| wanted(&row.outcome)).count();
    let to_create = count(|outcome| matches!(outcome, Outcome::Create(_)));
    let with_problems = count(|outcome| matches!(outcome, Outcome::Problems(_)));
    let known = count(|outcome| matches!(outcome, Outcome::Known | Outcome::Repeated(_)));
    ImportPage {
        rows: views(rows, t),
        to_create,
        summary: t.fill(
            "csv.import.summary",
            &[
                ("create", &to_create.to_string()),
                ("known", &known.to_string()),
                ("problems", &with_problems.to_string()),
            ],
        ),
        confirm_label: t.fill("csv.import.confirm", &[("count", &to_create.to_string())]),
        created: created
            .map(|created| t.fill("csv.import.created", &[("count", &created.to_string())])),
        tenant: ctx.tenant.clone(),
        content,
        error,
        layout,
    }
}

/// `GET /t/{slug}/customers/import`: the upload form.
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    Ok(respond(
        &req,
        StatusCode::OK,
        page(layout, &ctx, &[], String::new(), None, None),
    ))
}

/// What the multipart body brought: the uploaded file or the kept one, and the button pressed.
struct Upload {
    bytes: Option<Vec<u8>>,
    confirm: bool,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, ReadProblem> {
    let mut upload = Upload {
        bytes: None,
        confirm: false,
    };
    let mut total = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|_| ReadProblem::Malformed)?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| ReadProblem::Malformed)?;
            total = total.saturating_add(chunk.len());
            // The file (kept or uploaded) and a few small fields.
            if total > MAX_BYTES + 64 * 1024 {
                return Err(ReadProblem::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        match name.as_str() {
            "file" | "content" if !bytes.is_empty() => upload.bytes = Some(bytes),
            "action" => upload.confirm = bytes == b"confirm",
            _ => {}
        }
    }
    Ok(upload)
}

/// `POST /t/{slug}/customers/import` (multipart): with `action=preview` and a `file`, the preview; with
/// `action=confirm` and the kept `content`, the customers created (the rows checked again), then the result.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    multipart: Multipart,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let t = layout.t;
    let upload = read_upload(multipart).await;
    let refused = |layout: Layout, problem: FileProblem| {
        let message = match problem {
            FileProblem::Read(problem) => t.get(problem.message_key()).to_owned(),
            FileProblem::MissingColumns => t.get("csv.problem.columns").to_owned(),
            FileProblem::NoFile => t.get("csv.problem.no_file").to_owned(),
        };
        respond(
            &req,
            StatusCode::UNPROCESSABLE_ENTITY,
            page(layout, &ctx, &[], String::new(), Some(message), None),
        )
    };
    let upload = match upload {
        Ok(upload) => upload,
        Err(problem) => return Ok(refused(layout, FileProblem::Read(problem))),
    };
    let Some(bytes) = upload.bytes else {
        return Ok(refused(layout, FileProblem::NoFile));
    };
    let rows = match check(&state, &ctx, &bytes, t).await {
        Ok(rows) => rows,
        Err(problem) => return Ok(refused(layout, problem)),
    };
    let content = String::from_utf8_lossy(bytes.strip_prefix(spreadsheet::BOM).unwrap_or(&bytes))
        .into_owned();
    if !upload.confirm {
        return Ok(respond(
            &req,
            StatusCode::OK,
            page(layout, &ctx, &rows, content, None, None),
        ));
    }
    let mut created = 0;
    for row in &rows {
        let Outcome::Create(input) = &row.outcome else {
            continue;
        };
        state
            .customers
            .create(&ctx.scope, input, |customer| {
                Some(
                    AuditEntry::new("customer.imported", format!("customer:{}", customer.id))
                        .by(Some(ctx.user.user.id))
                        .from_ip(client_ip(&req))
                        .details(serde_json::json!({
                            "legal_name": customer.legal_name,
                            "siren": customer.siren,
                            "line": row.line,
                        })),
                )
            })
            .await?;
        created += 1;
    }
    tracing::info!(created, "customers imported");
    // What the file holds now, seen from the customers just created (they show as known).
    let rows = match check(&state, &ctx, &bytes, t).await {
        Ok(rows) => rows,
        Err(problem) => return Ok(refused(layout, problem)),
    };
    Ok(respond(
        &req,
        StatusCode::OK,
        page(layout, &ctx, &rows, String::new(), None, Some(created)),
    ))
}
