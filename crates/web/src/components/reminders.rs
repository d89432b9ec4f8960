//! The reminders of an invoice, as its timeline shows them: each step sent (by whom, or automatically) or
//! skipped, and a step waiting on the "reminders due" page.

use crate::errors::WebError;
use crate::format;
use crate::i18n::Tr;
use crate::state::AppState;
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::reminders::ReminderState;

#[derive(Debug, Clone)]
pub struct ReminderEntry {
    pub at: String,
    pub at_iso: String,
    pub title: String,
    pub by: String,
    pub tone: &'static str,
}

/// What the invoice page shows of its reminders.
#[derive(Debug, Clone, Default)]
pub struct RemindersPanel {
    pub entries: Vec<ReminderEntry>,
    pub due_href: String,
}

pub async fn panel(
    state: &AppState,
    scope: &TenantScope,
    slug: &str,
    invoice: InvoiceId,
    t: Tr,
) -> Result<RemindersPanel, WebError> {
    let records = state.reminders.for_invoice(scope, invoice).await?;
    let entries = records
        .into_iter()
        .map(|record| {
            let step = t.fill("reminders.step", &[("days", &record.step.to_string())]);
            let at = record.decided_at.unwrap_or(record.created_at);
            let (key, tone) = match record.state {
                ReminderState::Sent => ("reminders.timeline.sent", "good"),
                ReminderState::Skipped => ("reminders.timeline.skipped", "ignored"),
                ReminderState::Due => ("reminders.timeline.due", "warn"),
            };
            let by = match (record.state, record.decided_by_email) {
                (ReminderState::Due, _) => String::new(),
                (_, Some(email)) => t.fill("reminders.timeline.by", &[("who", &email)]),
                (ReminderState::Sent, None) => t.get("reminders.timeline.automatic").to_owned(),
                (ReminderState::Skipped, None) => t.get("reminders.timeline.superseded").to_owned(),
            };
            ReminderEntry {
                at: format::date_time(at, t.lang),
                at_iso: at.to_rfc3339(),
                title: t.fill(key, &[("step", &step)]),
                by,
                tone,
            }
        })
        .collect();
    Ok(RemindersPanel {
        entries,
        due_href: format!("/t/{slug}/reminders"),
    })
}
