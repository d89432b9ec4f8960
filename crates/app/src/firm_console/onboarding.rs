//! Bulk onboarding of companies from a CSV file: read (`;` or `,`, UTF-8 with or without BOM, as French
//! spreadsheets save it), checked row by row into a [`Plan`] that says every row's problems in words, and applied
//! only when confirmed: each valid row creates its company and queues its first administrator's invitation in
//! one transaction. A company is known by its SIREN, so the same file applied twice creates nothing the second
//! time (those rows are reported "already a company").

use crate::App;
use crate::i18n::Tr;
use chrono::Utc;
use portal_domain::Localized;
use portal_domain::identifiers::{Email, EmailError, Siren, SirenError, VatNumber};
use portal_domain::ids::UserId;
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::firm_console::{OnboardOutcome, OnboardedCompany};
use portal_persistence::outbox::NewEmail;
use portal_persistence::tenants::{Tenant, TenantAddress, TenantProfile};
use std::collections::{HashMap, HashSet};

/// The largest file accepted (about a thousand companies): the preview carries it back to the confirmation.
pub const MAX_UPLOAD_BYTES: usize = 160 * 1024;
/// The most companies in one file.
pub const MAX_ROWS: usize = 1_000;
/// The columns, in order (the template's header row).
pub const COLUMNS: [&str; 10] = [
    "name",
    "siren",
    "address",
    "postcode",
    "city",
    "admin_email",
    "admin_name",
    "billit_party_id",
    "accountant_email",
    "accountant_role",
];

/// The downloadable template: the header and one example row (UTF-8 with BOM and `;`, as Excel in French
/// opens it without an import dialogue). The optional columns are left empty: an accountant's email must be a
/// firm accountant's, and the role (`member`, the default, or `admin`) is the one they get in the company.
pub fn template_csv() -> String {
    format!(
        "\u{feff}{}\r\nBoulangerie Martin;732829320;12 rue des Lilas;75011;Paris;claire.martin@example.fr;Claire Martin;;;\r\n",
        COLUMNS.join(";")
    )
}

/// Why a file cannot be read at all (nothing is planned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("the file is empty")]
    Empty,
    #[error("the file is over the size limit")]
    TooLarge,
    #[error("the file has more than {MAX_ROWS} rows")]
    TooManyRows,
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("the file cannot be read as CSV: {0}")]
    Unreadable(String),
}

impl FileProblem {
    pub fn message(&self, t: &Tr) -> String {
        match self {
            Self::Empty => t.get("onboarding.file.empty").to_owned(),
            Self::TooLarge => t.fill(
                "onboarding.file.too_large",
                &[("size", &(MAX_UPLOAD_BYTES / 1024).to_string())],
            ),
            Self::TooManyRows => t.fill(
                "onboarding.file.too_many_rows",
                &[("max", &MAX_ROWS.to_string())],
            ),
            Self::NotUtf8 => t.get("onboarding.file.not_utf8").to_owned(),
            Self::Unreadable(_) => t.get("onboarding.file.unreadable").to_owned(),
        }
    }
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    Columns {
        found: usize,
    },
    NameMissing,
    Siren(SirenError),
    DuplicateInFile {
        line: usize,
    },
    AlreadyACompany,
    AddressMissing,
    PostcodeInvalid,
    CityMissing,
    AdminEmail(EmailError),
    AdminNameMissing,
    PartyIdInvalid,
    AccountantEmail(EmailError),
    /// The role is neither `member` nor `admin`.
    AccountantRole,
    /// A role without an accountant.
    RoleWithoutAccountant,
}

impl RowProblem {
    pub fn message(&self, t: &Tr) -> String {
        match self {
            // The role column is the only one a file of the earlier template lacks.
            Self::Columns { found } => t.fill(
                "onboarding.problem.columns",
                &[
                    ("found", &found.to_string()),
                    ("expected", &(COLUMNS.len() - 1).to_string()),
                    ("all", &COLUMNS.len().to_string()),
                ],
            ),
            Self::NameMissing => t.get("onboarding.problem.name_missing").to_owned(),
            Self::Siren(error) => t.fill(
                "onboarding.problem.siren",
                &[("reason", &error.message(t.lang))],
            ),
            Self::DuplicateInFile { line } => t.fill(
                "onboarding.problem.duplicate",
                &[("line", &line.to_string())],
            ),
            Self::AlreadyACompany => t.get("onboarding.problem.exists").to_owned(),
            Self::AddressMissing => t.get("onboarding.problem.address_missing").to_owned(),
            Self::PostcodeInvalid => t.get("onboarding.problem.postcode").to_owned(),
            Self::CityMissing => t.get("onboarding.problem.city_missing").to_owned(),
            Self::AdminEmail(error) => t.fill(
                "onboarding.problem.admin_email",
                &[("reason", &error.message(t.lang))],
            ),
            Self::AdminNameMissing => t.get("onboarding.problem.admin_name_missing").to_owned(),
            Self::PartyIdInvalid => t.get("onboarding.problem.party_id").to_owned(),
            Self::AccountantEmail(error) => t.fill(
                "onboarding.problem.accountant_email",
                &[("reason", &error.message(t.lang))],
            ),
            Self::AccountantRole => t.get("onboarding.problem.accountant_role").to_owned(),
            Self::RoleWithoutAccountant => t
                .get("onboarding.problem.role_without_accountant")
                .to_owned(),
        }
    }
}

/// One row of the file, as typed, with what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub name: String,
    pub siren: String,
    pub address: String,
    pub postcode: String,
    pub city: String,
    pub admin_email: String,
    pub admin_name: String,
    pub party_id: String,
    /// The firm accountant who will hold the company in their portfolio, as typed.
    pub accountant_email: Option<String>,
    /// The role they will hold there, as typed (empty: member).
    pub accountant_role: String,
    /// The accountant found for `accountant_email` and the role: the portfolio the company goes into.
    pub portfolio: Option<(UserId, TenantRole)>,
    /// An accountant's email no active firm accountant has: the company is created outside any portfolio (the
    /// preview and the report say so; a firm administrator can add it to a portfolio later).
    pub accountant_unknown: bool,
    pub problems: Vec<RowProblem>,
}

impl PlannedRow {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every row of a file and its problems.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub rows: Vec<PlannedRow>,
}

impl Plan {
    pub fn valid(&self) -> usize {
        self.rows.iter().filter(|row| row.is_valid()).count()
    }

    pub fn invalid(&self) -> usize {
        self.rows.len() - self.valid()
    }
}

/// The text of an uploaded file: UTF-8, its BOM dropped.
pub fn decode(bytes: &[u8]) -> Result<String, FileProblem> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(FileProblem::TooLarge);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| FileProblem::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(text.to_owned())
}

/// `;` unless the header line has more commas than semicolons (quotes aside, a header has neither in its names).
fn separator_of(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    let semicolons = first.matches(';').count();
    let commas = first.matches(',').count();
    if commas > semicolons { b',' } else { b';' }
}

/// The rows of the file, each with its line number; the first row is the header when its SIREN column is not a
/// number (so a file without a header loses nothing).
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, FileProblem> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator_of(text))
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    for index in 0.. {
        // Where the record starts (the reader's position before reading it; a record's own position is lost
        // when it is trimmed), as the line a person sees in a text editor: newlines before it, plus one.
        let start = usize::try_from(reader.position().byte()).unwrap_or(0);
        if !reader
            .read_record(&mut record)
            .map_err(|error| FileProblem::Unreadable(error.to_string()))?
        {
            break;
        }
        let rest = text.get(start..).unwrap_or_default();
        let blank = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
        let line = text
            .get(..start + blank)
            .map_or(index + 1, |before| before.matches('\n').count() + 1);
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if rows.is_empty() && index == 0 {
            let siren_cell = cells.get(1).map(String::as_str).unwrap_or_default();
            if !siren_cell.chars().any(|c| c.is_ascii_digit()) {
                continue;
            }
        }
        rows.push((line, cells));
        if rows.len() > MAX_ROWS {
            return Err(FileProblem::TooManyRows);
        }
    }
    if rows.is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(rows)
}

/// Checks every row of `text`: its own fields, SIRENs repeated in the file, and SIRENs already a company's.
pub async fn plan(app: &App, text: &str) -> Result<Result<Plan, FileProblem>, anyhow::Error> {
    let records = match records(text) {
        Ok(records) => records,
        Err(problem) => return Ok(Err(problem)),
    };
    let mut rows: Vec<PlannedRow> = records
        .into_iter()
        .map(|(line, cells)| check(line, &cells))
        .collect();
    let sirens: Vec<String> = rows
        .iter()
        .filter_map(|row| Siren::parse(&row.siren).ok())
        .map(|siren| siren.as_string())
        .collect();
    let existing: HashSet<String> = app
        .firm_console
        .existing_sirens(&sirens)
        .await?
        .into_iter()
        .collect();
    // The firm's active accountants by email (one read, whatever the number of rows).
    let wants_accountants = rows.iter().any(|row| row.accountant_email.is_some());
    let accountants: HashMap<String, UserId> = if wants_accountants {
        app.firm
            .accountants()
            .await?
            .into_iter()
            .filter(|accountant| accountant.active && accountant.user.active)
            .map(|accountant| (accountant.user.email.to_lowercase(), accountant.user.id))
            .collect()
    } else {
        HashMap::new()
    };
    for row in &mut rows {
        let Some(email) = row.accountant_email.as_deref() else {
            continue;
        };
        if Email::parse(email).is_err() {
            continue;
        }
        match (
            accountants.get(&email.trim().to_lowercase()),
            role_of(&row.accountant_role),
        ) {
            (Some(user), Some(role)) => row.portfolio = Some((*user, role)),
            (None, _) => row.accountant_unknown = true,
            (Some(_), None) => {}
        }
    }
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for row in &mut rows {
        let Ok(siren) = Siren::parse(&row.siren) else {
            continue;
        };
        let siren = siren.as_string();
        if existing.contains(&siren) {
            row.problems.push(RowProblem::AlreadyACompany);
        } else if let Some(line) = first_line.get(&siren) {
            row.problems
                .push(RowProblem::DuplicateInFile { line: *line });
        } else {
            first_line.insert(siren, row.line);
        }
    }
    Ok(Ok(Plan { rows }))
}

/// A row's own checks.
fn check(line: usize, cells: &[String]) -> PlannedRow {
    let cell = |n: usize| cells.get(n).cloned().unwrap_or_default();
    let accountant = cell(8);
    let accountant_role = cell(9);
    let mut row = PlannedRow {
        line,
        name: cell(0),
        siren: cell(1),
        address: cell(2),
        postcode: cell(3),
        city: cell(4),
        admin_email: cell(5),
        admin_name: cell(6),
        party_id: cell(7),
        accountant_email: (!accountant.is_empty()).then_some(accountant),
        accountant_role,
        portfolio: None,
        accountant_unknown: false,
        problems: Vec::new(),
    };
    let problems = &mut row.problems;
    // Trailing empty optional columns may be left out by spreadsheets; more columns, or too few, are a mistake.
    if !(7..=COLUMNS.len()).contains(&cells.len()) {
        problems.push(RowProblem::Columns { found: cells.len() });
    }
    if row.name.is_empty() {
        problems.push(RowProblem::NameMissing);
    }
    if let Err(error) = Siren::parse(&row.siren) {
        problems.push(RowProblem::Siren(error));
    }
    if row.address.is_empty() {
        problems.push(RowProblem::AddressMissing);
    }
    if !(row.postcode.len() == 5 && row.postcode.chars().all(|c| c.is_ascii_digit())) {
        problems.push(RowProblem::PostcodeInvalid);
    }
    if row.city.is_empty() {
        problems.push(RowProblem::CityMissing);
    }
    if let Err(error) = Email::parse(&row.admin_email) {
        problems.push(RowProblem::AdminEmail(error));
    }
    if row.admin_name.is_empty() {
        problems.push(RowProblem::AdminNameMissing);
    }
    if !row.party_id.is_empty() && row.party_id.parse::<i64>().map_or(true, |id| id <= 0) {
        problems.push(RowProblem::PartyIdInvalid);
    }
    if let Some(accountant) = &row.accountant_email
        && let Err(error) = Email::parse(accountant)
    {
        problems.push(RowProblem::AccountantEmail(error));
    }
    if role_of(&row.accountant_role).is_none() {
        problems.push(RowProblem::AccountantRole);
    } else if row.accountant_email.is_none() && !row.accountant_role.is_empty() {
        problems.push(RowProblem::RoleWithoutAccountant);
    }
    row
}

/// The portfolio role a cell says: empty is member; the words are English (the template's) or French.
fn role_of(cell: &str) -> Option<TenantRole> {
    match cell.trim().to_lowercase().as_str() {
        "" | "member" | "membre" => Some(TenantRole::Member),
        "admin" | "administrator" | "administrateur" => Some(TenantRole::Admin),
        _ => None,
    }
}

/// The address part of a URL for a company's name: lowercase ASCII letters and digits between dashes.
pub fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    slug.trim_matches('-').to_owned()
}

fn fold_accent(c: char) -> Vec<char> {
    let folded = match c {
        'à' | 'â' | 'ä' | 'á' | 'À' | 'Â' | 'Ä' | 'Á' => 'a',
        'ç' | 'Ç' => 'c',
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
        'î' | 'ï' | 'í' | 'Î' | 'Ï' => 'i',
        'ô' | 'ö' | 'ó' | 'Ô' | 'Ö' => 'o',
        'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' => 'u',
        'ÿ' | 'Ÿ' => 'y',
        'œ' | 'Œ' => return vec!['o', 'e'],
        'æ' | 'Æ' => return vec!['a', 'e'],
        other => other,
    };
    vec![folded]
}

/// What became of each row once applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub created: Vec<(PlannedRow, Tenant)>,
    /// Rows not created, each with its problems (a row valid at preview whose SIREN became a company's meanwhile
    /// says so).
    pub skipped: Vec<PlannedRow>,
}

/// Who applies a plan, for the invitations and the audit log.
#[derive(Debug, Clone)]
pub struct Applier {
    pub user: UserId,
    pub ip: Option<String>,
}

/// Applies `text`'s plan as it stands now (checked again: the database may have changed since the preview):
/// each valid row, in its own transaction, becomes a company with its first administrator's invitation queued
/// (the email written by `email_for` from the company and the link's token) and, when the row names a firm
/// accountant, its place in that accountant's portfolio with the row's role.
pub async fn apply<F>(
    app: &App,
    text: &str,
    by: &Applier,
    email_for: F,
) -> Result<Result<Report, FileProblem>, anyhow::Error>
where
    F: Fn(&Tenant, &str, &str) -> Result<NewEmail, String>,
{
    let plan = match plan(app, text).await? {
        Ok(plan) => plan,
        Err(problem) => return Ok(Err(problem)),
    };
    let mut report = Report::default();
    for mut row in plan.rows {
        if !row.is_valid() {
            report.skipped.push(row);
            continue;
        }
        let Ok(siren) = Siren::parse(&row.siren) else {
            report.skipped.push(row);
            continue;
        };
        let base = match slug_of(&row.name) {
            slug if slug.len() >= 2 => slug,
            _ => format!("societe-{}", siren.as_string()),
        };
        let candidates = vec![base.clone(), format!("{base}-{}", siren.as_string())];
        let company = OnboardedCompany {
            profile: TenantProfile {
                slug: base,
                legal_name: row.name.clone(),
                siren: siren.as_string(),
                vat_number: Some(VatNumber::from_siren(siren).to_string()),
                address: TenantAddress {
                    street: Some(row.address.clone()),
                    postal_code: Some(row.postcode.clone()),
                    city: Some(row.city.clone()),
                    country: Some("FR".to_owned()),
                },
            },
            admin_email: row.admin_email.clone(),
            party_id: row.party_id.parse().ok(),
            portfolio: row.portfolio,
        };
        let entry = AuditEntry::new("tenant.onboarded", format!("siren:{}", siren.as_string()))
            .by(Some(by.user))
            .from_ip(by.ip.clone())
            .details(serde_json::json!({
                "admin_email": row.admin_email,
                "admin_name": row.admin_name,
                "accountant_email": row.accountant_email,
                "accountant_role": row.portfolio.map(|(_, role)| role.as_str()),
                "line": row.line,
            }));
        let admin_email = row.admin_email.clone();
        let outcome = app
            .firm_console
            .onboard_company(
                company,
                &candidates,
                by.user,
                Utc::now(),
                |tenant, token| email_for(tenant, &admin_email, token),
                entry,
            )
            .await?;
        match outcome {
            OnboardOutcome::Created {
                tenant,
                in_portfolio,
            } => {
                if !in_portfolio && row.portfolio.take().is_some() {
                    // The accountant left the firm between the preview and now.
                    row.accountant_unknown = true;
                }
                report.created.push((row, *tenant));
            }
            OnboardOutcome::SirenTaken => {
                row.problems.push(RowProblem::AlreadyACompany);
                report.skipped.push(row);
            }
        }
    }
    if !report.created.is_empty() {
        app.jobs.ring();
    }
    Ok(Ok(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_spreadsheets_are_read_with_their_bom_and_semicolons() {
        let text = decode(template_csv().as_bytes()).unwrap();
        let rows = records(&text).unwrap();
        assert_eq!(rows.len(), 1, "the header is not a company");
        assert_eq!(rows[0].0, 2);
        let row = check(rows[0].0, &rows[0].1);
        assert!(row.is_valid(), "{:?}", row.problems);
        assert_eq!(row.name, "Boulangerie Martin");
    }

    #[test]
    fn commas_and_quotes_work_too() {
        let text = "name,siren,address,postcode,city,admin_email,admin_name,billit_party_id,accountant_email,accountant_role\n\
                    \"Dupont, fils\",443061841,\"1, place X\",69001,Lyon,a@b.fr,Anne,12,bad-email\n";
        let rows = records(text).unwrap();
        let row = check(rows[0].0, &rows[0].1);
        assert_eq!(row.name, "Dupont, fils");
        assert_eq!(row.party_id, "12");
        assert!(matches!(row.problems[..], [RowProblem::AccountantEmail(_)]));
    }

    #[test]
    fn every_problem_of_a_row_is_listed() {
        let cells: Vec<String> = ["", "732829321", "", "7501", "", "nope", "", "-3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let row = check(3, &cells);
        assert!(row.problems.contains(&RowProblem::NameMissing));
        assert!(
            row.problems
                .contains(&RowProblem::Siren(SirenError::Checksum))
        );
        assert!(row.problems.contains(&RowProblem::PostcodeInvalid));
        assert!(row.problems.contains(&RowProblem::PartyIdInvalid));
        assert_eq!(row.problems.len(), 8, "{:?}", row.problems);
    }

    #[test]
    fn files_that_are_not_utf8_or_are_empty_are_refused() {
        assert_eq!(decode(b"caf\xe9;"), Err(FileProblem::NotUtf8));
        assert_eq!(decode(b"\xEF\xBB\xBF  \n"), Err(FileProblem::Empty));
        assert_eq!(
            decode(&vec![b'a'; MAX_UPLOAD_BYTES + 1]),
            Err(FileProblem::TooLarge)
        );
    }

    #[test]
    fn slugs_are_readable_addresses() {
        assert_eq!(
            slug_of("Boulangerie Émile & Fils"),
            "boulangerie-emile-fils"
        );
        assert_eq!(slug_of("  Œuvre  "), "oeuvre");
        assert_eq!(slug_of("!!"), "");
    }
}
