//! Settling a dispute (or correcting any sent invoice) with a credit note or a corrected invoice.
//!
//! `/invoices/new?from=<invoice>&as=credit_note|corrected` opens the editor pre-filled from a sent invoice; the
//! draft carries the original's id in a hidden field, and saving writes the link with the draft
//! (`related_invoice_id`, `relation`), only to an invoice of the same tenant. A linked credit note may not take
//! back more than what remains of the invoice's total. Both pages then show the link: the original how it was
//! settled, the new document where it comes from. The invoice page's request panel gets the disputed business
//! terms and the rules the status file cites.

use crate::components::actions::{Action, Decisions, Refusal, refused_page};
use crate::components::status::{StatusBadge, status_badge};
use crate::errors::WebError;
use crate::extract::TenantContext;
use crate::format;
use crate::i18n::Tr;
use crate::invoices::forms::EditorForm;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;
use portal_app::settlements::LinkRefusal;
use portal_domain::Localized;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{DocumentType, InvoiceDraft};
use portal_domain::lifecycle::History;
use portal_persistence::invoices::{InvoiceRecord, StoredEvent};
use portal_persistence::settlements::{InvoiceRelation, RelatedDocument};

/// What the user asked the editor to start from an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleAs {
    CreditNote,
    Corrected,
}

impl SettleAs {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "credit_note" => Some(Self::CreditNote),
            "corrected" => Some(Self::Corrected),
            _ => None,
        }
    }
}

fn invoice_href(slug: &str, id: InvoiceId) -> String {
    format!("/t/{slug}/invoices/{id}")
}

/// The page that says why an invoice cannot be settled (not sent, a credit note, cancelled, fully credited).
async fn not_settleable_page(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    original: &InvoiceRecord,
    refusal: &Refusal,
) -> Result<HttpResponse, WebError> {
    refused_page(
        state,
        req,
        ctx,
        refusal,
        "settlements.refused_title",
        (
            invoice_href(&ctx.tenant.slug, original.id),
            "settlements.to_original",
        ),
    )
    .await
}

/// What `/invoices/new?from=…&as=…` gives: the pre-filled form, or the page saying why not.
pub enum Prefill {
    Form(Box<EditorForm>),
    Refused(HttpResponse),
}

/// The mention that ties the new document to the original, in the buyer's language (it is printed on it).
fn reference_note(settle_as: SettleAs, original: &InvoiceRecord) -> String {
    let language = original.draft.buyer.language;
    let buyer = Tr::new(language);
    let date = original
        .draft
        .issue_date
        .map(|date| format::date(date, language))
        .unwrap_or_default();
    buyer.fill(
        match settle_as {
            SettleAs::CreditNote => "settlements.note_credit_note",
            SettleAs::Corrected => "settlements.note_corrected",
        },
        &[("number", original.number()), ("date", &date)],
    )
}

/// The editor's form for a credit note or a corrected invoice of the invoice `from`: the same buyer, lines and
/// references, a newly proposed number, today's date, and the link to the original.
pub async fn prefill(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    from: &str,
    settle_as: &str,
    today: NaiveDate,
) -> Result<Prefill, WebError> {
    let original = crate::extract::find_invoice(state, ctx, from).await?;
    let Some(settle_as) = SettleAs::parse(settle_as) else {
        return Err(WebError::NotFound);
    };
    let document_type = match settle_as {
        SettleAs::CreditNote => DocumentType::CreditNote,
        SettleAs::Corrected => DocumentType::Invoice,
    };
    if let Err(refusal) =
        portal_app::settlements::may_start_from(state, &ctx.scope, &original, document_type).await?
    {
        return Ok(Prefill::Refused(
            not_settleable_page(state, req, ctx, &original, &refusal).await?,
        ));
    }
    let number = state
        .invoices
        .propose_number(&ctx.scope, document_type, today)
        .await?;
    let copied = EditorForm::from_record(&original);
    let mut form = EditorForm::new_document(document_type, number, today);
    form.customer_id = copied.customer_id.clone();
    form.set_buyer(&original.draft.buyer);
    form.currency = copied.currency.clone();
    form.lines = copied.lines.clone();
    form.purchase_order = copied.purchase_order.clone();
    form.contract = copied.contract.clone();
    form.buyer_reference = copied.buyer_reference.clone();
    form.related_invoice = original.id.to_string();
    let note = reference_note(settle_as, &original);
    match settle_as {
        SettleAs::CreditNote => {
            form.corrects = original.number().to_owned();
            form.notes = note;
        }
        SettleAs::Corrected => {
            form.delivery_date = copied.delivery_date.clone();
            // The same payment term as the original, counted from today.
            if let (Some(issued), Some(due)) = (original.draft.issue_date, original.draft.due_date)
                && let Ok(days) = u64::try_from((due - issued).num_days())
                && let Some(due) = today.checked_add_days(chrono::Days::new(days))
            {
                form.due_date = due.format("%Y-%m-%d").to_string();
            }
            form.notes = if copied.notes.trim().is_empty() {
                note
            } else {
                format!("{note}\n\n{}", copied.notes)
            };
        }
    }
    Ok(Prefill::Form(Box::new(form)))
}

// ---- the editor ----

/// The editor's banner for a linked document (and, before its first save, the hidden field that carries the
/// link).
#[derive(Debug, Clone)]
pub struct EditorLink {
    /// The original's id, for the hidden field of a document not saved yet.
    pub hidden_id: Option<String>,
    pub lead: String,
    pub number: String,
    pub href: String,
    /// For a credit note: the most it may take back.
    pub limit: Option<String>,
}

/// The original a document is (or will be) linked to: the stored link of a saved document, else the form's
/// hidden field.
pub(crate) async fn linked_original(
    state: &AppState,
    ctx: &TenantContext,
    form: &EditorForm,
    invoice: Option<&InvoiceRecord>,
) -> Result<Option<InvoiceRecord>, WebError> {
    match invoice {
        Some(invoice) => match invoice.related {
            Some((id, _)) => Ok(state.invoices.get(&ctx.scope, id).await?),
            None => Ok(None),
        },
        None if form.related_invoice.trim().is_empty() => Ok(None),
        None => crate::extract::find_invoice(state, ctx, &form.related_invoice)
            .await
            .map(Some),
    }
}

/// What remains to credit on `original` (cents, incl. VAT), the credit note `except` left out.
async fn remaining_cents(
    state: &AppState,
    ctx: &TenantContext,
    original: &InvoiceRecord,
    except: Option<InvoiceId>,
) -> Result<i64, WebError> {
    Ok(portal_app::settlements::credit_limit(state, &ctx.scope, original, except).await?)
}

/// The banner of the editor of a linked document; `None` for any other document.
pub async fn editor_link(
    state: &AppState,
    ctx: &TenantContext,
    form: &EditorForm,
    invoice: Option<&InvoiceRecord>,
    t: Tr,
) -> Result<Option<EditorLink>, WebError> {
    let original = match linked_original(state, ctx, form, invoice).await {
        Ok(Some(original)) => original,
        // A hidden field naming nothing of this tenant is refused when saving; the page just shows no link.
        Ok(None) | Err(WebError::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    let currency = original.draft.currency.as_str();
    let limit = match form.document_type {
        DocumentType::CreditNote => {
            let remaining =
                remaining_cents(state, ctx, &original, invoice.map(|invoice| invoice.id)).await?;
            Some(t.fill(
                "settlements.editor_limit",
                &[
                    (
                        "remaining",
                        &format::amount_cents(remaining, currency, t.lang),
                    ),
                    (
                        "total",
                        &format::amount_cents(original.totals.incl, currency, t.lang),
                    ),
                ],
            ))
        }
        DocumentType::Invoice => None,
    };
    Ok(Some(EditorLink {
        hidden_id: invoice.is_none().then(|| original.id.to_string()),
        lead: t
            .get(match form.document_type {
                DocumentType::CreditNote => "settlements.editor_credit_note_for",
                DocumentType::Invoice => "settlements.editor_corrects",
            })
            .to_owned(),
        number: original.number().to_owned(),
        href: invoice_href(&ctx.tenant.slug, original.id),
        limit,
    }))
}

/// What saving (or sending) a document may do about its link.
#[derive(Debug)]
pub enum LinkCheck {
    /// Not linked.
    Unlinked,
    /// Linked to this original, and within its limits.
    Linked(Box<InvoiceRecord>),
    /// Refused, with the sentence to show.
    Refused(String),
}

/// The check before a document is saved or sent: the original must be a sent invoice of this tenant (another
/// tenant's id is a 404), and a credit note may not take back more than what remains of the invoice's total.
/// `draft` is what will be stored, `total_incl_cents` its total.
pub async fn check_link(
    state: &AppState,
    ctx: &TenantContext,
    form: &EditorForm,
    invoice: Option<&InvoiceRecord>,
    draft: &InvoiceDraft,
    total_incl_cents: i64,
    t: Tr,
) -> Result<LinkCheck, WebError> {
    let Some(original) = linked_original(state, ctx, form, invoice).await? else {
        return Ok(LinkCheck::Unlinked);
    };
    // A saved document keeps the link it was created with, whatever became of the original since.
    match portal_app::settlements::check_link(
        state,
        &ctx.scope,
        &original,
        invoice.map(|invoice| invoice.id),
        draft,
        total_incl_cents,
    )
    .await
    {
        Ok(()) => {}
        Err(LinkRefusal::Refused(refusal)) => {
            return Ok(LinkCheck::Refused(refusal.message(t.lang)));
        }
        Err(LinkRefusal::OverLimit {
            amount_cents,
            remaining_cents,
        }) => {
            return Ok(LinkCheck::Refused(over_limit_sentence(
                &original,
                amount_cents,
                remaining_cents,
                t,
            )));
        }
        Err(other) => return Err(WebError::from_failure(other)),
    }
    Ok(LinkCheck::Linked(Box::new(original)))
}

pub(crate) fn over_limit_sentence(
    original: &InvoiceRecord,
    amount: i64,
    remaining: i64,
    t: Tr,
) -> String {
    let currency = original.draft.currency.as_str();
    t.fill(
        "settlements.over_limit",
        &[
            ("amount", &format::amount_cents(amount, currency, t.lang)),
            ("number", original.number()),
            (
                "remaining",
                &format::amount_cents(remaining, currency, t.lang),
            ),
            (
                "total",
                &format::amount_cents(original.totals.incl, currency, t.lang),
            ),
        ],
    )
}

/// Why the credit note `invoice` was not queued: it takes back more than the `remaining_cents` its original had
/// when it was checked under the original's lock.
pub async fn over_limit_refusal(
    state: &AppState,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    remaining_cents: i64,
    t: Tr,
) -> Result<String, WebError> {
    let original = match invoice.related {
        Some((id, _)) => state.invoices.get(&ctx.scope, id).await?,
        None => None,
    }
    .ok_or(WebError::NotFound)?;
    Ok(over_limit_sentence(
        &original,
        invoice.totals.incl,
        remaining_cents,
        t,
    ))
}

/// The check before a stored document is sent (the limit may have moved since it was saved: another credit
/// note went out meanwhile). `Some(sentence)` when it must not go.
pub async fn check_before_sending(
    state: &AppState,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    t: Tr,
) -> Result<Option<String>, WebError> {
    if invoice.related.is_none() {
        return Ok(None);
    }
    let check = check_link(
        state,
        ctx,
        &EditorForm::default(),
        Some(invoice),
        &invoice.draft,
        invoice.totals.incl,
        t,
    )
    .await?;
    Ok(match check {
        LinkCheck::Refused(sentence) => Some(sentence),
        LinkCheck::Unlinked | LinkCheck::Linked(_) => None,
    })
}

// ---- the invoice page ----

/// A business term the customer disputes, with the value it has on the invoice.
#[derive(Debug, Clone)]
pub struct DisputedTerm {
    pub term: String,
    pub name: String,
    pub value: String,
}

/// A rule the status file cites.
#[derive(Debug, Clone)]
pub struct RuleNote {
    pub rule: String,
    pub message: String,
    pub terms: String,
}

/// A credit note or corrected invoice of this invoice.
#[derive(Debug, Clone)]
pub struct SettlementLine {
    pub lead: String,
    pub number: String,
    pub href: String,
    pub detail: String,
    pub(crate) status: StatusBadge,
}

/// The original of a linked document.
#[derive(Debug, Clone)]
pub struct OriginLink {
    pub lead: String,
    pub number: String,
    pub href: String,
}

/// The buttons that start a credit note or a corrected invoice (those the table of actions opens); the one the
/// customer asked for comes first.
#[derive(Debug, Clone)]
pub struct SettleActions {
    pub credit_note_href: Option<String>,
    pub corrected_href: Option<String>,
    pub corrected_first: bool,
    /// Why: the customer disputes the invoice.
    pub disputed: bool,
}

/// What the invoice page shows about settling: the open request's details, the documents that settle the
/// invoice, where a linked document comes from, and the actions.
#[derive(Debug, Clone, Default)]
pub struct SettlementPanel {
    pub disputed: Vec<DisputedTerm>,
    pub rules: Vec<RuleNote>,
    pub documents: Vec<SettlementLine>,
    pub remaining: Option<String>,
    pub origin: Option<OriginLink>,
    pub actions: Option<SettleActions>,
}

impl SettlementPanel {
    /// Whether the settlement section has anything to show (the request details go with the request panel).
    pub fn has_section(&self) -> bool {
        !self.documents.is_empty() || self.origin.is_some() || self.actions.is_some()
    }
}

/// The open request's disputed terms and cited rules, from its status file (when one explained it).
fn request_details(
    events: &[StoredEvent],
    history: &History,
) -> (Vec<DisputedTerm>, Vec<RuleNote>) {
    let Some(request) = history.open_request.as_ref() else {
        return (Vec::new(), Vec::new());
    };
    let Some(details) = events
        .iter()
        .find(|stored| stored.event.dedup_key == request.dedup_key)
        .and_then(|stored| stored.details.as_ref())
    else {
        return (Vec::new(), Vec::new());
    };
    let text = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
    let disputed = details
        .characteristics
        .iter()
        .map(|item| DisputedTerm {
            term: text(&item.term),
            name: text(&item.name),
            value: text(&item.value),
        })
        .filter(|item| !(item.term.is_empty() && item.name.is_empty() && item.value.is_empty()))
        .collect();
    // A note without a rule or terms is the customer's comment again, already shown by the request panel.
    let rules = details
        .notes
        .iter()
        .filter(|note| note.rule.is_some() || note.terms.is_some())
        .map(|note| RuleNote {
            rule: text(&note.rule),
            message: note.message.trim().to_owned(),
            terms: text(&note.terms),
        })
        .collect();
    (disputed, rules)
}

fn settlement_line(
    slug: &str,
    original: &InvoiceRecord,
    document: &RelatedDocument,
    t: Tr,
) -> SettlementLine {
    let lang = t.lang;
    let date = format::date_or_dash(document.issue_date, lang);
    let amount = format::amount_cents(document.total_incl_cents, &document.currency, lang);
    let (lead, detail) = match document.relation {
        InvoiceRelation::CreditNoteFor => {
            let extent = if portal_domain::settlement::is_full_credit(
                document.total_incl_cents,
                original.totals.incl,
            ) {
                "settlements.full"
            } else {
                "settlements.partial"
            };
            (
                "settlements.credit_note",
                t.fill(
                    "settlements.credit_note_detail",
                    &[
                        ("extent", t.get(extent)),
                        ("amount", &amount),
                        ("date", &date),
                    ],
                ),
            )
        }
        InvoiceRelation::Corrects => (
            "settlements.replaced_by",
            t.fill(
                "settlements.corrected_detail",
                &[("amount", &amount), ("date", &date)],
            ),
        ),
    };
    SettlementLine {
        lead: t.get(lead).to_owned(),
        number: if document.number.trim().is_empty() {
            t.get("settlements.no_number").to_owned()
        } else {
            document.number.clone()
        },
        href: invoice_href(slug, document.id),
        detail,
        status: status_badge(document.headline, document.submission, t),
    }
}

/// The invoice page's settlement data (one field of the page), from the invoice's `related` documents (as
/// `related_documents` reads them).
#[expect(
    clippy::too_many_arguments,
    reason = "the page's reads, passed in so that none is made twice"
)]
pub async fn panel(
    state: &AppState,
    ctx: &TenantContext,
    record: &InvoiceRecord,
    related: &[RelatedDocument],
    events: &[StoredEvent],
    history: &History,
    decisions: &Decisions,
    t: Tr,
) -> Result<SettlementPanel, WebError> {
    let slug = &ctx.tenant.slug;
    let (disputed, rules) = request_details(events, history);
    let documents: Vec<SettlementLine> = related
        .iter()
        .map(|document| settlement_line(slug, record, document, t))
        .collect();
    let remaining = if related
        .iter()
        .any(|document| document.relation == InvoiceRelation::CreditNoteFor)
    {
        // What the credit notes take back was added up for the table of actions already.
        let remaining = portal_domain::settlement::credit_limit(
            record.totals.incl,
            decisions.situation().credited_cents.unwrap_or_default(),
        );
        Some(t.fill(
            "settlements.remaining",
            &[(
                "amount",
                &format::amount_cents(remaining, &record.draft.currency, t.lang),
            )],
        ))
    } else {
        None
    };
    let origin = match record.related {
        Some((id, relation)) => {
            state
                .invoices
                .get(&ctx.scope, id)
                .await?
                .map(|original| OriginLink {
                    lead: t
                        .get(match relation {
                            InvoiceRelation::CreditNoteFor => "settlements.origin_credit_note",
                            InvoiceRelation::Corrects => "settlements.origin_corrected",
                        })
                        .to_owned(),
                    number: original.number().to_owned(),
                    href: invoice_href(slug, original.id),
                })
        }
        None => None,
    };
    let request = history.open_request.as_ref();
    let new = format!("/t/{slug}/invoices/new?from={}", record.id);
    let credit_note_href = decisions
        .offers(Action::CreditNote)
        .then(|| format!("{new}&as=credit_note"));
    let corrected_href = decisions
        .offers(Action::CorrectedInvoice)
        .then(|| format!("{new}&as=corrected"));
    let actions = (credit_note_href.is_some() || corrected_href.is_some()).then(|| SettleActions {
        credit_note_href,
        corrected_href,
        corrected_first: request
            .and_then(|request| request.requested_action.as_deref())
            .is_some_and(|action| action.trim().eq_ignore_ascii_case("NIN")),
        disputed: request.is_some_and(|request| request.code.0 == 207),
    });
    Ok(SettlementPanel {
        disputed,
        rules,
        documents,
        remaining,
        origin,
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;
    use portal_persistence::invoices::SubmissionState;

    #[test]
    fn the_reference_note_is_in_the_buyers_language() {
        let mut original = InvoiceDraft {
            number: "F2026-00001".into(),
            issue_date: NaiveDate::from_ymd_opt(2026, 9, 1),
            ..InvoiceDraft::default()
        };
        let record = |draft: InvoiceDraft| InvoiceRecord {
            id: InvoiceId::new(),
            customer_id: None,
            buyer_name: String::new(),
            draft,
            totals: Default::default(),
            submission: SubmissionState::Sent,
            submission_error: None,
            submission_attempts: 1,
            idempotency_key: String::new(),
            billit_order_id: Some(1),
            submitted_at: None,
            sent_at: None,
            summary: Default::default(),
            billit_facts: None,
            last_polled_at: None,
            created_by: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            related: None,
        };
        let french = reference_note(SettleAs::CreditNote, &record(original.clone()));
        assert!(
            french.contains("F2026-00001") && french.contains("01/09/2026"),
            "{french}"
        );
        original.buyer.language = Language::En;
        let english = reference_note(SettleAs::Corrected, &record(original));
        assert!(
            english.contains("F2026-00001") && english.contains("2026-09-01"),
            "{english}"
        );
        assert_ne!(french, english);
        assert_eq!(SettleAs::parse("corrected"), Some(SettleAs::Corrected));
        assert_eq!(SettleAs::parse("other"), None);
    }
}
