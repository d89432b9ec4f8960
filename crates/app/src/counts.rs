//! `portal dev recount`: recomputes every company's kept counts (invoices per status, invoices sent per month)
//! from its invoices, one transaction per company, and says what it changed. The triggers of migration 000021
//! keep the counts exact; this repairs them should they drift all the same (a manual edit of the tables, a
//! restore of part of a backup).

use portal_persistence::Db as DatabaseConnection;
use portal_persistence::counts::{CountsRepository, Recount};

/// What the recount found, per company whose counts it changed.
#[derive(Debug, Clone, Default)]
pub struct RecountReport {
    pub companies: usize,
    /// `(slug, what changed)`, companies whose counts were right left out.
    pub changed: Vec<(String, Recount)>,
}

/// Recounts every company; `progress` gets one line per company that needed a change.
pub async fn recount_all(
    db: &DatabaseConnection,
    progress: impl Fn(&str),
) -> anyhow::Result<RecountReport> {
    let counts = CountsRepository::new(db.clone());
    let companies = counts.companies().await?;
    let mut report = RecountReport {
        companies: companies.len(),
        changed: Vec::new(),
    };
    for (tenant, scope) in companies {
        let recount = counts.recount(&scope).await.map_err(|error| {
            anyhow::Error::from(error).context(format!("recounting {}", tenant.slug))
        })?;
        if recount.is_empty() {
            continue;
        }
        for line in describe(&tenant.slug, &recount) {
            progress(&line);
        }
        report.changed.push((tenant.slug.clone(), recount));
    }
    Ok(report)
}

/// One line per corrected count: `slug: status 208, sent, needs action: 12 → 13`.
pub fn describe(slug: &str, recount: &Recount) -> Vec<String> {
    let mut lines = Vec::new();
    for fix in &recount.statuses {
        let (code, state, needs_action) = &fix.key;
        let status = if *code == 0 {
            "no status yet".to_owned()
        } else {
            format!("status {code}")
        };
        let action = if *needs_action {
            "needs action"
        } else {
            "no action"
        };
        lines.push(format!(
            "{slug}: {status}, {state}, {action}: {} → {}",
            fix.kept, fix.actual
        ));
    }
    for fix in &recount.months {
        lines.push(format!(
            "{slug}: sent in {}: {} → {}",
            fix.key, fix.kept, fix.actual
        ));
    }
    lines
}
