//! What may be done with a document after each status: one table, [`decide`], that every page and every use case
//! asks instead of deciding on its own.
//!
//! The table reads what the other modules already know of a document ([`Situation`]): where it is on its way to
//! Billit ([`crate::submission`]), its folded lifecycle ([`crate::lifecycle`]: the headline status, the open
//! request, the tax reporting and payment tracks), what its payments leave to pay ([`crate::payments`]) and what
//! its credit notes already take back ([`crate::settlement`]). For each [`Action`] it answers open, or closed with
//! the reason in words ([`Refusal`], French and English).
//!
//! The rules (XP Z12-014: the transmission statuses come in order, the processing statuses 204–212 in any order;
//! 210 closes the exchange; 213 is final for that transmission; a 213 `DOUBLON` after delivery is no rejection,
//! the fold leaves it out of the headline):
//! - before Billit has it, a draft is sent, edited and deleted; a failed submission is retried, deleted, and
//!   edited as long as Billit created no order for it; while it is on its way nothing is done with it; once it is
//!   sent it never changes again (a credit note or a corrected invoice does that);
//! - a sent invoice can be credited (while its credit notes do not already take back all of it) and corrected,
//!   whatever its status, except after 220 (its lifecycle was cancelled: it was replaced already);
//! - a payment is recorded (or the invoice marked fully paid) only on a sent invoice that Billit has as an order,
//!   not refused (210), not rejected (213, 251, 501, or the tax data rejected), not cancelled (220), and only while
//!   something remains to be paid (by the payments recorded, and by the payment track);
//! - the customer's request is answered only while a 207 or 208 is open;
//! - a reminder is sent only for a sent invoice that is unpaid (something remains), not refused, rejected,
//!   cancelled or fully credited, and without an open 207/208 (answer it first).
//!
//! Credit notes themselves are sent, edited and deleted like invoices, but are never paid, credited, corrected
//! or reminded; a request on one can be answered.

use crate::invoice::DocumentType;
use crate::lang::{Language, Localized};
use crate::lifecycle::{Payment, TaxReporting};
use crate::status::StatusCode;
use crate::submission::SubmissionState;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Something a person may do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Send a draft to Billit.
    Send,
    /// Send a failed submission again.
    Retry,
    /// Delete it.
    Delete,
    /// Change its content in the editor.
    Edit,
    /// Answer the customer's open dispute (207) or request (208) by email.
    Answer,
    /// Issue a credit note taking back all or part of it.
    CreditNote,
    /// Issue a corrected invoice replacing it.
    CorrectedInvoice,
    /// Record a payment received (212).
    RecordPayment,
    /// Record what remains as paid today.
    MarkFullyPaid,
    /// Remind the customer that it is due.
    SendReminder,
}

impl Action {
    /// Every action, in the order a page lists them.
    pub const ALL: [Self; 10] = [
        Self::Send,
        Self::Retry,
        Self::Delete,
        Self::Edit,
        Self::Answer,
        Self::CreditNote,
        Self::CorrectedInvoice,
        Self::RecordPayment,
        Self::MarkFullyPaid,
        Self::SendReminder,
    ];

    /// A stable name, e.g. `record_payment` (for logs and tests).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Retry => "retry",
            Self::Delete => "delete",
            Self::Edit => "edit",
            Self::Answer => "answer",
            Self::CreditNote => "credit_note",
            Self::CorrectedInvoice => "corrected_invoice",
            Self::RecordPayment => "record_payment",
            Self::MarkFullyPaid => "mark_fully_paid",
            Self::SendReminder => "send_reminder",
        }
    }

    /// The action in words, as the start of a sentence.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::Send => language.pick("Envoyer", "Send"),
            Self::Retry => language.pick("Réessayer l’envoi", "Retry sending"),
            Self::Delete => language.pick("Supprimer", "Delete"),
            Self::Edit => language.pick("Modifier", "Edit"),
            Self::Answer => language.pick("Répondre au client", "Answer the customer"),
            Self::CreditNote => language.pick("Émettre un avoir", "Issue a credit note"),
            Self::CorrectedInvoice => language.pick(
                "Émettre une facture rectificative",
                "Issue a corrected invoice",
            ),
            Self::RecordPayment => language.pick("Enregistrer un paiement", "Record a payment"),
            Self::MarkFullyPaid => language.pick("Marquer comme payée", "Mark as fully paid"),
            Self::SendReminder => language.pick("Envoyer une relance", "Send a reminder"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the table needs to know of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub document_type: DocumentType,
    /// Where it is on its way to Billit.
    pub submission: SubmissionState,
    /// Whether Billit created its order (payments are reported to it; the content can no longer change).
    pub has_billit_order: bool,
    /// The headline status of the fold (`None`: nothing heard yet). A 213 `DOUBLON` after delivery is not in it.
    pub headline: Option<StatusCode>,
    /// The open 207 or 208, if any.
    pub open_request: Option<StatusCode>,
    /// The tax reporting track (failed: the PPF rejected the tax data, 251 or 501).
    pub tax_reporting: TaxReporting,
    /// The payment track of the fold (paid: the 212 amounts or Billit's `Paid` / `ToPay` cover the total).
    pub payment: Payment,
    /// The total including VAT, in cents.
    pub total_cents: i64,
    /// What the payments recorded in the portal add up to ([`crate::payments::paid_cents`]).
    pub paid_cents: i64,
    /// What its issued credit notes take back ([`crate::settlement::credited_cents`]); `None` when the caller did
    /// not read it, which only a caller deciding neither [`Action::CreditNote`] nor [`Action::SendReminder`] may
    /// do (a payment's transaction): those two are then decided as if nothing was credited.
    pub credited_cents: Option<i64>,
}

impl Situation {
    /// What remains to be paid, in cents: nothing when the payment track says paid, else the total minus the
    /// payments recorded ([`crate::payments::remaining_cents`]).
    pub fn remaining_cents(&self) -> i64 {
        if self.payment == Payment::Paid {
            0
        } else {
            crate::payments::remaining_cents(self.total_cents, self.paid_cents)
        }
    }

    /// Whether the issued credit notes take back the whole invoice.
    pub fn fully_credited(&self) -> bool {
        self.credited_cents.is_some_and(|credited| {
            self.total_cents > 0 && crate::settlement::credit_limit(self.total_cents, credited) <= 0
        })
    }

    /// How the exchange ended, if it did: cancelled (220), refused (210) or rejected (213, 251, 501, or the tax
    /// data rejected).
    fn ending(&self) -> Option<Reason> {
        match self.headline.map(StatusCode::as_u16) {
            Some(220) => Some(Reason::Cancelled),
            Some(210) => Some(Reason::Refused),
            Some(code @ (213 | 251 | 501)) => Some(Reason::Rejected(StatusCode(code))),
            _ if self.tax_reporting == TaxReporting::Failed => {
                Some(Reason::Rejected(StatusCode::TAX_DATA_REJECTED))
            }
            _ => None,
        }
    }
}

/// Why an action is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "code")]
pub enum Reason {
    /// A credit note is not paid, credited, corrected or reminded.
    CreditNoteDocument,
    /// Not sent yet (a draft or a failed submission).
    NotSent,
    /// On its way to Billit (queued or being sent).
    OnItsWay,
    /// Sent: it can no longer change or be deleted.
    AlreadySent,
    /// A failed submission is retried, not sent as a draft.
    SubmissionFailed,
    /// A draft that never failed is sent, not retried.
    NeverFailed,
    /// Billit created the order of this draft or failed submission: its content can no longer change.
    OrderExists,
    /// Sent, but the portal does not know Billit's order: payments cannot be reported to it.
    NoBillitOrder,
    /// The lifecycle was cancelled (220).
    Cancelled,
    /// The customer refused the invoice (210).
    Refused,
    /// A platform or the tax authority rejected it (213, 251, 501).
    Rejected(StatusCode),
    /// No dispute (207) or request (208) is open.
    NoOpenRequest,
    /// A dispute (207) or request (208) is open: it is answered first.
    RequestOpen(StatusCode),
    /// Nothing remains to be paid.
    NothingRemains,
    /// Credit notes already take back the whole invoice.
    FullyCredited,
}

impl Localized for Reason {
    fn message_fr(&self) -> String {
        match self {
            Self::CreditNoteDocument => {
                "un avoir ne se paie pas, ne se crédite pas, ne se rectifie pas et ne se relance pas".to_owned()
            }
            Self::NotSent => "le document n’a pas encore été envoyé".to_owned(),
            Self::OnItsWay => {
                "le document est en cours d’envoi à Billit : attendez la fin de l’envoi".to_owned()
            }
            Self::AlreadySent => "le document a été envoyé : il ne peut plus être modifié ni supprimé ; émettez un avoir ou une facture rectificative".to_owned(),
            Self::SubmissionFailed => {
                "l’envoi a échoué : utilisez « Réessayer l’envoi »".to_owned()
            }
            Self::NeverFailed => {
                "le document n’a jamais été envoyé : utilisez « Envoyer »".to_owned()
            }
            Self::OrderExists => "Billit a déjà créé la commande de ce document : son contenu ne peut plus changer".to_owned(),
            Self::NoBillitOrder => {
                "la commande Billit de cette facture est inconnue : un paiement ne peut pas lui être déclaré".to_owned()
            }
            Self::Cancelled => "le cycle de vie de la facture a été annulé (220)".to_owned(),
            Self::Refused => "le client a refusé la facture (210) : aucun paiement ne peut y être enregistré ; émettez plutôt un avoir ou une facture rectificative".to_owned(),
            Self::Rejected(code) => format!(
                "la facture a été rejetée ({}) : aucun paiement ne peut y être enregistré ; émettez plutôt une facture rectificative ou un avoir",
                code.0
            ),
            Self::NoOpenRequest => {
                "aucun litige (207) ni demande d’information (208) n’est en cours".to_owned()
            }
            Self::RequestOpen(code) => format!(
                "le client a une demande en cours ({}) : répondez-lui d’abord",
                code.0
            ),
            Self::NothingRemains => "il ne reste rien à payer".to_owned(),
            Self::FullyCredited => "des avoirs reprennent déjà toute la facture".to_owned(),
        }
    }

    fn message_en(&self) -> String {
        match self {
            Self::CreditNoteDocument => {
                "a credit note is not paid, credited, corrected or reminded".to_owned()
            }
            Self::NotSent => "the document has not been sent yet".to_owned(),
            Self::OnItsWay => {
                "the document is being sent to Billit: wait until it is sent".to_owned()
            }
            Self::AlreadySent => "the document was sent: it can no longer be changed or deleted; issue a credit note or a corrected invoice".to_owned(),
            Self::SubmissionFailed => "sending failed: use \"Retry sending\"".to_owned(),
            Self::NeverFailed => "the document was never sent: use \"Send\"".to_owned(),
            Self::OrderExists => {
                "Billit already created this document's order: its content can no longer change".to_owned()
            }
            Self::NoBillitOrder => {
                "this invoice's Billit order is unknown: no payment can be reported to it".to_owned()
            }
            Self::Cancelled => "the invoice's lifecycle was cancelled (220)".to_owned(),
            Self::Refused => "the customer refused the invoice (210): no payment can be recorded on it; issue a credit note or a corrected invoice instead".to_owned(),
            Self::Rejected(code) => format!(
                "the invoice was rejected ({}): no payment can be recorded on it; issue a corrected invoice or a credit note instead",
                code.0
            ),
            Self::NoOpenRequest => {
                "no dispute (207) or information request (208) is open".to_owned()
            }
            Self::RequestOpen(code) => format!(
                "the customer has an open request ({}): answer it first",
                code.0
            ),
            Self::NothingRemains => "nothing remains to be paid".to_owned(),
            Self::FullyCredited => {
                "credit notes already take back the whole invoice".to_owned()
            }
        }
    }
}

/// An action the table closes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{action} is not possible: {}", reason.message_en())]
pub struct Refusal {
    pub action: Action,
    pub reason: Reason,
}

impl Localized for Refusal {
    fn message_fr(&self) -> String {
        format!(
            "{} : impossible, {}.",
            self.action.label(Language::Fr),
            self.reason.message_fr()
        )
    }

    fn message_en(&self) -> String {
        format!(
            "{}: not possible, {}.",
            self.action.label(Language::En),
            self.reason.message_en()
        )
    }
}

/// The table: whether `action` is open in `situation`, or why not.
pub fn decide(action: Action, situation: &Situation) -> Result<(), Refusal> {
    reason_closed(action, situation).map_or(Ok(()), |reason| Err(Refusal { action, reason }))
}

/// Every action with its decision, in [`Action::ALL`]'s order.
pub fn table(situation: &Situation) -> [(Action, Result<(), Refusal>); 10] {
    Action::ALL.map(|action| (action, decide(action, situation)))
}

/// The open actions, in [`Action::ALL`]'s order.
pub fn open_actions(situation: &Situation) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|action| decide(*action, situation).is_ok())
        .collect()
}

fn reason_closed(action: Action, s: &Situation) -> Option<Reason> {
    use SubmissionState::{Draft, Failed, Queued, Sending, Sent};
    let is_credit_note = s.document_type == DocumentType::CreditNote;
    // Where the document is on its way to Billit, for the actions that need it sent.
    let unsent = match s.submission {
        Draft | Failed => Some(Reason::NotSent),
        Queued | Sending => Some(Reason::OnItsWay),
        Sent => None,
    };
    let open_request = s.open_request.filter(|code| matches!(code.0, 207 | 208));
    match action {
        Action::Send => match s.submission {
            Draft => None,
            Failed => Some(Reason::SubmissionFailed),
            Queued | Sending => Some(Reason::OnItsWay),
            Sent => Some(Reason::AlreadySent),
        },
        Action::Retry => match s.submission {
            Failed => None,
            Draft => Some(Reason::NeverFailed),
            Queued | Sending => Some(Reason::OnItsWay),
            Sent => Some(Reason::AlreadySent),
        },
        Action::Delete => match s.submission {
            Draft | Failed => None,
            Queued | Sending => Some(Reason::OnItsWay),
            Sent => Some(Reason::AlreadySent),
        },
        Action::Edit => match s.submission {
            Draft | Failed if s.has_billit_order => Some(Reason::OrderExists),
            Draft | Failed => None,
            Queued | Sending => Some(Reason::OnItsWay),
            Sent => Some(Reason::AlreadySent),
        },
        Action::Answer => unsent.or(match open_request {
            Some(_) => None,
            None => Some(Reason::NoOpenRequest),
        }),
        Action::CreditNote | Action::CorrectedInvoice => {
            if is_credit_note {
                Some(Reason::CreditNoteDocument)
            } else if let Some(reason) = unsent {
                Some(reason)
            } else if s.headline == Some(StatusCode::CANCELLED) {
                Some(Reason::Cancelled)
            } else if action == Action::CreditNote && s.fully_credited() {
                Some(Reason::FullyCredited)
            } else {
                None
            }
        }
        Action::RecordPayment | Action::MarkFullyPaid | Action::SendReminder => {
            if is_credit_note {
                Some(Reason::CreditNoteDocument)
            } else if let Some(reason) = unsent {
                Some(reason)
            } else if action != Action::SendReminder && !s.has_billit_order {
                Some(Reason::NoBillitOrder)
            } else if let Some(ending) = s.ending() {
                Some(ending)
            } else if s.remaining_cents() <= 0 {
                Some(Reason::NothingRemains)
            } else if action == Action::SendReminder && s.fully_credited() {
                Some(Reason::FullyCredited)
            } else if action == Action::SendReminder {
                open_request.map(Reason::RequestOpen)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTAL: i64 = 12_000;

    /// A sent invoice that Billit has, nothing paid or credited, with this headline.
    fn sent(headline: Option<u16>) -> Situation {
        Situation {
            document_type: DocumentType::Invoice,
            submission: SubmissionState::Sent,
            has_billit_order: true,
            headline: headline.map(StatusCode),
            open_request: headline
                .filter(|code| matches!(code, 207 | 208))
                .map(StatusCode),
            tax_reporting: match headline {
                Some(251 | 501) => TaxReporting::Failed,
                _ => TaxReporting::Pending,
            },
            payment: match headline {
                Some(212) => Payment::Paid,
                _ => Payment::Unpaid,
            },
            total_cents: TOTAL,
            paid_cents: if headline == Some(212) { TOTAL } else { 0 },
            credited_cents: Some(0),
        }
    }

    fn open(situation: &Situation) -> Vec<Action> {
        open_actions(situation)
    }

    use Action::{
        Answer, CorrectedInvoice, CreditNote, Delete, Edit, MarkFullyPaid, RecordPayment, Retry,
        Send, SendReminder,
    };

    /// The short table of the README: each headline status of a sent invoice and what it leaves open.
    #[test]
    fn each_headline_status_opens_its_actions() {
        let unpaid = vec![
            CreditNote,
            CorrectedInvoice,
            RecordPayment,
            MarkFullyPaid,
            SendReminder,
        ];
        let settle_only = vec![CreditNote, CorrectedInvoice];
        let request = vec![
            Answer,
            CreditNote,
            CorrectedInvoice,
            RecordPayment,
            MarkFullyPaid,
        ];
        let rows: Vec<(Option<u16>, Vec<Action>)> = vec![
            (None, unpaid.clone()),
            (Some(200), unpaid.clone()),
            (Some(201), unpaid.clone()),
            (Some(202), unpaid.clone()),
            (Some(203), unpaid.clone()),
            (Some(204), unpaid.clone()),
            (Some(205), unpaid.clone()),
            (Some(206), unpaid.clone()),
            (Some(207), request.clone()),
            (Some(208), request),
            (Some(209), unpaid.clone()),
            (Some(210), settle_only.clone()),
            (Some(211), unpaid.clone()),
            (Some(212), settle_only.clone()),
            (Some(213), settle_only.clone()),
            (Some(214), unpaid.clone()),
            (Some(220), Vec::new()),
            (Some(221), unpaid.clone()),
            (Some(250), unpaid.clone()),
            (Some(251), settle_only.clone()),
            (Some(500), unpaid.clone()),
            (Some(501), settle_only),
            (Some(999), unpaid),
        ];
        for (headline, expected) in rows {
            assert_eq!(open(&sent(headline)), expected, "headline {headline:?}");
        }
    }

    #[test]
    fn before_billit_has_it_only_the_drafts_actions_are_open() {
        let mut draft = sent(None);
        draft.submission = SubmissionState::Draft;
        draft.has_billit_order = false;
        assert_eq!(open(&draft), [Send, Delete, Edit]);
        let mut failed = draft;
        failed.submission = SubmissionState::Failed;
        assert_eq!(open(&failed), [Retry, Delete, Edit]);
        failed.has_billit_order = true;
        assert_eq!(open(&failed), [Retry, Delete]);
        assert_eq!(
            decide(Edit, &failed).unwrap_err().reason,
            Reason::OrderExists
        );
        for state in [SubmissionState::Queued, SubmissionState::Sending] {
            let mut on_its_way = draft;
            on_its_way.submission = state;
            assert!(open(&on_its_way).is_empty());
            assert_eq!(
                decide(Delete, &on_its_way).unwrap_err().reason,
                Reason::OnItsWay
            );
        }
        assert_eq!(
            decide(RecordPayment, &draft).unwrap_err().reason,
            Reason::NotSent
        );
        assert_eq!(
            decide(Send, &failed).unwrap_err().reason,
            Reason::SubmissionFailed
        );
        assert_eq!(
            decide(Retry, &draft).unwrap_err().reason,
            Reason::NeverFailed
        );
    }

    #[test]
    fn refused_and_rejected_invoices_are_settled_not_paid() {
        for (headline, reason) in [
            (210, Reason::Refused),
            (213, Reason::Rejected(StatusCode(213))),
            (251, Reason::Rejected(StatusCode(251))),
            (501, Reason::Rejected(StatusCode(501))),
        ] {
            let situation = sent(Some(headline));
            for action in [RecordPayment, MarkFullyPaid, SendReminder] {
                assert_eq!(
                    decide(action, &situation),
                    Err(Refusal { action, reason }),
                    "{headline} {action}"
                );
            }
            assert!(decide(CreditNote, &situation).is_ok());
            assert!(decide(CorrectedInvoice, &situation).is_ok());
        }
        // The tax data rejected while the headline is still a transmission step: the track decides.
        let mut tax_failed = sent(Some(203));
        tax_failed.tax_reporting = TaxReporting::Failed;
        assert_eq!(
            decide(RecordPayment, &tax_failed).unwrap_err().reason,
            Reason::Rejected(StatusCode(251))
        );
    }

    #[test]
    fn answering_needs_an_open_request_and_a_reminder_waits_for_it() {
        for headline in [None, Some(203), Some(205), Some(209), Some(210), Some(212)] {
            assert_eq!(
                decide(Answer, &sent(headline)).unwrap_err().reason,
                Reason::NoOpenRequest,
                "{headline:?}"
            );
        }
        // A request stays answerable whatever else happened (e.g. paid meanwhile).
        let mut paid_then_disputed = sent(Some(207));
        paid_then_disputed.payment = Payment::Paid;
        assert!(decide(Answer, &paid_then_disputed).is_ok());
        assert_eq!(
            decide(SendReminder, &sent(Some(208))).unwrap_err().reason,
            Reason::RequestOpen(StatusCode(208))
        );
    }

    #[test]
    fn nothing_remaining_closes_payments_and_reminders() {
        let mut paid = sent(Some(205));
        paid.paid_cents = TOTAL;
        for action in [RecordPayment, MarkFullyPaid, SendReminder] {
            assert_eq!(
                decide(action, &paid).unwrap_err().reason,
                Reason::NothingRemains
            );
        }
        // Billit says paid though nothing was recorded here.
        let mut billit_paid = sent(Some(211));
        billit_paid.payment = Payment::Paid;
        assert_eq!(
            decide(MarkFullyPaid, &billit_paid).unwrap_err().reason,
            Reason::NothingRemains
        );
        let mut partial = sent(Some(205));
        partial.paid_cents = TOTAL - 1;
        partial.payment = Payment::Partial;
        assert!(decide(MarkFullyPaid, &partial).is_ok());
        assert!(decide(SendReminder, &partial).is_ok());
    }

    #[test]
    fn a_fully_credited_invoice_is_neither_credited_again_nor_reminded() {
        let mut credited = sent(Some(203));
        credited.credited_cents = Some(TOTAL);
        assert_eq!(
            decide(CreditNote, &credited).unwrap_err().reason,
            Reason::FullyCredited
        );
        assert_eq!(
            decide(SendReminder, &credited).unwrap_err().reason,
            Reason::FullyCredited
        );
        assert!(decide(CorrectedInvoice, &credited).is_ok());
        credited.credited_cents = Some(TOTAL - 1);
        assert!(decide(CreditNote, &credited).is_ok());
    }

    #[test]
    fn credit_notes_are_never_paid_or_settled() {
        let mut credit_note = sent(Some(203));
        credit_note.document_type = DocumentType::CreditNote;
        assert!(open(&credit_note).is_empty());
        credit_note.headline = Some(StatusCode(207));
        credit_note.open_request = Some(StatusCode(207));
        assert_eq!(open(&credit_note), [Answer]);
    }

    fn every_situation() -> Vec<Situation> {
        let mut headlines: Vec<Option<StatusCode>> = vec![None];
        headlines.extend(
            [
                200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213, 214, 220,
                221, 250, 251, 500, 501, 999,
            ]
            .map(|code| Some(StatusCode(code))),
        );
        let mut out = Vec::new();
        for document_type in [DocumentType::Invoice, DocumentType::CreditNote] {
            for submission in SubmissionState::ALL {
                for has_billit_order in [false, true] {
                    for headline in &headlines {
                        for open_request in [None, Some(207), Some(208)] {
                            for tax_reporting in [
                                TaxReporting::Pending,
                                TaxReporting::Done,
                                TaxReporting::Failed,
                            ] {
                                for payment in [Payment::Unpaid, Payment::Partial, Payment::Paid] {
                                    for paid_cents in [0, TOTAL / 2, TOTAL] {
                                        for credited_cents in [None, Some(0), Some(TOTAL)] {
                                            out.push(Situation {
                                                document_type,
                                                submission,
                                                has_billit_order,
                                                headline: *headline,
                                                open_request: open_request.map(StatusCode),
                                                tax_reporting,
                                                payment,
                                                total_cents: TOTAL,
                                                paid_cents,
                                                credited_cents,
                                            });
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Every row of the table (headline × submission × tracks × open request × what was paid and credited), each
    /// rule checked on its own.
    #[test]
    fn every_row_keeps_every_rule() {
        let situations = every_situation();
        assert!(situations.len() > 100_000);
        for s in &situations {
            let decisions = table(s);
            let is_open = |action: Action| {
                decisions
                    .iter()
                    .find(|(a, _)| *a == action)
                    .is_some_and(|(_, decision)| decision.is_ok())
            };
            let code = s.headline.map(|code| code.0);
            let sent = s.submission == SubmissionState::Sent;
            let invoice = s.document_type == DocumentType::Invoice;
            let refused_or_rejected = matches!(code, Some(210 | 213 | 251 | 501))
                || s.tax_reporting == TaxReporting::Failed;
            let cancelled = code == Some(220);
            let request_open = s.open_request.is_some();
            let remains = s.payment != Payment::Paid && s.paid_cents < s.total_cents;
            let fully_credited = s.credited_cents == Some(TOTAL);

            // Drafts' actions only before Billit has it; never once sent.
            assert_eq!(
                is_open(Send),
                s.submission == SubmissionState::Draft,
                "{s:?}"
            );
            assert_eq!(
                is_open(Retry),
                s.submission == SubmissionState::Failed,
                "{s:?}"
            );
            assert_eq!(is_open(Delete), s.submission.is_editable(), "{s:?}");
            assert_eq!(
                is_open(Edit),
                s.submission.is_editable() && !s.has_billit_order,
                "{s:?}"
            );
            // Answering only while a 207/208 is open, on a sent document.
            assert_eq!(is_open(Answer), sent && request_open, "{s:?}");
            // No payment on a refused or rejected (or cancelled) invoice, nor when nothing remains.
            let payable = invoice
                && sent
                && s.has_billit_order
                && !refused_or_rejected
                && !cancelled
                && remains;
            assert_eq!(is_open(RecordPayment), payable, "{s:?}");
            // The table never opens what the older rules of the domain close.
            if payable {
                assert!(crate::payments::is_payable(
                    s.document_type,
                    s.submission,
                    s.has_billit_order
                ));
            }
            if is_open(CreditNote) || is_open(CorrectedInvoice) {
                assert!(crate::settlement::is_settleable(
                    s.document_type,
                    s.submission
                ));
            }
            assert_eq!(is_open(MarkFullyPaid), payable, "{s:?}");
            // Settling instead: a credit note or a corrected invoice on any sent invoice not cancelled.
            assert_eq!(
                is_open(CorrectedInvoice),
                invoice && sent && !cancelled,
                "{s:?}"
            );
            assert_eq!(
                is_open(CreditNote),
                invoice && sent && !cancelled && !fully_credited,
                "{s:?}"
            );
            if refused_or_rejected && invoice && sent && !cancelled {
                assert!(
                    is_open(CorrectedInvoice) && !is_open(RecordPayment),
                    "{s:?}"
                );
            }
            // A reminder: sent, unpaid, not ended, not fully credited, no open request.
            assert_eq!(
                is_open(SendReminder),
                invoice
                    && sent
                    && !refused_or_rejected
                    && !cancelled
                    && remains
                    && !fully_credited
                    && !request_open,
                "{s:?}"
            );
            // Every closed action says why, in both languages.
            for (action, decision) in &decisions {
                if let Err(refusal) = decision {
                    assert_eq!(refusal.action, *action);
                    let (fr, en) = (refusal.message_fr(), refusal.message_en());
                    assert!(!fr.is_empty() && !en.is_empty() && fr != en, "{refusal:?}");
                }
            }
        }
    }

    #[test]
    fn refusals_read_in_both_languages() {
        let refusal = decide(RecordPayment, &sent(Some(210))).unwrap_err();
        assert_eq!(
            refusal.message(Language::Fr),
            "Enregistrer un paiement : impossible, le client a refusé la facture (210) : aucun paiement ne peut y être enregistré ; émettez plutôt un avoir ou une facture rectificative."
        );
        assert_eq!(
            refusal.message(Language::En),
            "Record a payment: not possible, the customer refused the invoice (210): no payment can be recorded on it; issue a credit note or a corrected invoice instead."
        );
        assert_eq!(
            refusal.to_string(),
            "record_payment is not possible: the customer refused the invoice (210): no payment can be recorded on it; issue a credit note or a corrected invoice instead"
        );
    }
}
