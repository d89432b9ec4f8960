//! Reminders (relances) of unpaid invoices: a company's schedule, and the rule that decides, for one invoice on
//! one day, which step of the schedule is due or why none is.
//!
//! The rule, in this order:
//! 1. nothing is ever sent for an invoice that is paid in full (212), refused (210), rejected (213, 251, 501 — a
//!    213 `DOUBLON` after delivery is a rejected re-delivery, not a rejection: see [`crate::lifecycle`]),
//!    cancelled (220), fully credited, or whose customer is excluded from reminders;
//! 2. nothing while a dispute (207) or an information request (208) is open;
//! 3. nothing for [`PAYMENT_SENT_GRACE_DAYS`] days after the buyer said the payment was sent (211);
//! 4. nothing before the first step (due date + the first step's days);
//! 5. otherwise the *latest* step whose day has come is due, unless that step or a later one was already
//!    recorded (sent or skipped). Steps whose day came during a hold are not sent in a burst when the hold ends:
//!    only the latest one is.

use crate::lang::Language;
use crate::lifecycle::{ActionReason, Lifecycle, Payment};
use crate::status::StatusCode;
use chrono::{DateTime, Days, NaiveDate, Utc};
use std::fmt;

/// The portal's schedule: 7, 15 and 30 days after the due date.
pub const DEFAULT_STEPS: [u16; 3] = [7, 15, 30];
/// Days without a reminder after the buyer's 211 ("payment sent").
pub const PAYMENT_SENT_GRACE_DAYS: u64 = 5;
/// At most this many steps in a schedule.
pub const MAX_STEPS: usize = 10;
/// The latest a step may be, in days after the due date.
pub const MAX_STEP_DAYS: u16 = 365;

/// A company's reminder steps, in days after the due date: at least one, strictly increasing, 1 to 365.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(Vec<u16>);

/// Why an edited schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// No step at all.
    Empty,
    /// A part that is not a whole number of days.
    NotANumber(String),
    /// A step of 0 days or more than [`MAX_STEP_DAYS`].
    OutOfRange(String),
    /// The same day twice.
    Duplicate(u16),
    /// More than [`MAX_STEPS`] steps.
    TooMany,
}

impl ScheduleError {
    /// What is wrong, in words.
    pub fn label(&self, language: Language) -> String {
        match (self, language) {
            (Self::Empty, Language::Fr) => {
                "Indiquez au moins une relance, en jours après l'échéance (par exemple : 7, 15, 30).".into()
            }
            (Self::Empty, Language::En) => {
                "Give at least one reminder, in days after the due date (for example: 7, 15, 30).".into()
            }
            (Self::NotANumber(part), Language::Fr) => {
                format!("« {part} » n'est pas un nombre de jours entier.")
            }
            (Self::NotANumber(part), Language::En) => {
                format!("\"{part}\" is not a whole number of days.")
            }
            (Self::OutOfRange(part), Language::Fr) => format!(
                "« {part} » : une relance se place entre 1 et {MAX_STEP_DAYS} jours après l'échéance."
            ),
            (Self::OutOfRange(part), Language::En) => format!(
                "\"{part}\": a reminder comes between 1 and {MAX_STEP_DAYS} days after the due date."
            ),
            (Self::Duplicate(days), Language::Fr) => {
                format!("Le jour {days} figure deux fois.")
            }
            (Self::Duplicate(days), Language::En) => format!("Day {days} is given twice."),
            (Self::TooMany, Language::Fr) => format!("Au plus {MAX_STEPS} relances."),
            (Self::TooMany, Language::En) => format!("At most {MAX_STEPS} reminders."),
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label(Language::En))
    }
}

impl std::error::Error for ScheduleError {}

impl Default for Schedule {
    fn default() -> Self {
        Self(DEFAULT_STEPS.to_vec())
    }
}

impl Schedule {
    /// Reads a schedule as typed: days separated by commas, semicolons or spaces, in any order ("30, 7, 15").
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let parts: Vec<&str> = text
            .split([',', ';', ' ', '\t', '\n', '\r'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if parts.len() > MAX_STEPS {
            return Err(ScheduleError::TooMany);
        }
        let mut steps = Vec::with_capacity(parts.len());
        for part in parts {
            let digits = part
                .trim_start_matches(['J', 'j', 'D', 'd'])
                .trim_start_matches('+');
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(ScheduleError::NotANumber(part.to_owned()));
            }
            let days = digits
                .parse::<u16>()
                .ok()
                .filter(|days| (1..=MAX_STEP_DAYS).contains(days))
                .ok_or_else(|| ScheduleError::OutOfRange(part.to_owned()))?;
            if steps.contains(&days) {
                return Err(ScheduleError::Duplicate(days));
            }
            steps.push(days);
        }
        steps.sort_unstable();
        Ok(Self(steps))
    }

    /// The steps, in increasing order.
    pub fn steps(&self) -> &[u16] {
        &self.0
    }

    /// The first step (a schedule is never empty).
    pub fn first(&self) -> u16 {
        self.0.first().copied().unwrap_or(DEFAULT_STEPS[0])
    }

    /// As stored and shown: `7, 15, 30`.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the rule needs to know about an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    /// The due date; an invoice without one gets no reminder.
    pub due_date: Option<NaiveDate>,
    /// The open 207 or 208, if any.
    pub open_request: Option<StatusCode>,
    /// The day of the buyer's latest 211 ("payment sent"), if any.
    pub payment_sent_on: Option<NaiveDate>,
    /// 212 for the whole amount.
    pub paid_in_full: bool,
    /// 210.
    pub refused: bool,
    /// 213 (not a re-delivery's DOUBLON), 251 or 501.
    pub rejected: bool,
    /// 220.
    pub cancelled: bool,
    /// Credit notes take back the whole total.
    pub fully_credited: bool,
    /// The customer is excluded from reminders.
    pub customer_excluded: bool,
}

impl Standing {
    /// The standing of an invoice from its fold, plus what the fold does not know.
    pub fn from_lifecycle(
        lifecycle: &Lifecycle,
        due_date: Option<NaiveDate>,
        fully_credited: bool,
        customer_excluded: bool,
    ) -> Self {
        let payment_sent_on = lifecycle
            .timeline
            .iter()
            .filter(|event| event.effective_code() == Some(StatusCode(211)))
            .map(|event| event.at)
            .max()
            .map(|at: DateTime<Utc>| at.date_naive());
        Self::from_summary(
            SummaryFacts {
                open_request: lifecycle.open_request.as_ref().map(|request| request.code),
                action_reasons: &lifecycle.action_reasons,
                cancelled: lifecycle.cancelled,
                paid_in_full: lifecycle.payment == Payment::Paid,
            },
            due_date,
            payment_sent_on,
            fully_credited,
            customer_excluded,
        )
    }

    /// The standing of an invoice from its stored summary (which the fold wrote).
    pub fn from_summary(
        summary: SummaryFacts<'_>,
        due_date: Option<NaiveDate>,
        payment_sent_on: Option<NaiveDate>,
        fully_credited: bool,
        customer_excluded: bool,
    ) -> Self {
        let has = |reason: ActionReason| summary.action_reasons.contains(&reason);
        Self {
            due_date,
            open_request: summary
                .open_request
                .filter(|code| matches!(code.0, 207 | 208)),
            payment_sent_on,
            paid_in_full: summary.paid_in_full,
            refused: has(ActionReason::Refused),
            rejected: has(ActionReason::Rejected)
                || has(ActionReason::NotReceivable)
                || has(ActionReason::TaxDataRejected),
            cancelled: summary.cancelled,
            fully_credited,
            customer_excluded,
        }
    }
}

/// What the stored summary of an invoice says, as the rule reads it.
#[derive(Debug, Clone, Copy)]
pub struct SummaryFacts<'a> {
    pub open_request: Option<StatusCode>,
    pub action_reasons: &'a [ActionReason],
    pub cancelled: bool,
    pub paid_in_full: bool,
}

/// Why no reminder goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Paid in full (212).
    Paid,
    /// Refused by the buyer (210).
    Refused,
    /// Rejected (213, 251, 501).
    Rejected,
    /// Cancelled (220).
    Cancelled,
    /// Credit notes take back the whole total.
    FullyCredited,
    /// The customer is excluded from reminders.
    CustomerExcluded,
    /// No due date on the invoice.
    NoDueDate,
    /// A dispute (207) is open.
    OpenDispute,
    /// An information request (208) is open.
    OpenRequest,
    /// The buyer said the payment was sent (211); reminders resume on `until`.
    PaymentSent { until: NaiveDate },
    /// The first step's day has not come; it comes on `first`.
    NotYetDue { first: NaiveDate },
}

impl Hold {
    /// Whether the hold ends by itself or with the invoice's life (a request closing), as opposed to a final
    /// state of the invoice.
    pub fn is_temporary(self) -> bool {
        matches!(
            self,
            Self::OpenDispute
                | Self::OpenRequest
                | Self::PaymentSent { .. }
                | Self::NotYetDue { .. }
        )
    }

    /// A stable name, for logs and tests.
    pub fn code(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Refused => "refused",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::FullyCredited => "fully_credited",
            Self::CustomerExcluded => "customer_excluded",
            Self::NoDueDate => "no_due_date",
            Self::OpenDispute => "open_dispute",
            Self::OpenRequest => "open_request",
            Self::PaymentSent { .. } => "payment_sent",
            Self::NotYetDue { .. } => "not_yet_due",
        }
    }

    /// Why, in words.
    pub fn label(self, language: Language) -> String {
        let date = |day: NaiveDate| day.format("%d/%m/%Y").to_string();
        match self {
            Self::Paid => language.pick("Payée", "Paid").into(),
            Self::Refused => language
                .pick(
                    "Refusée par le client (210)",
                    "Refused by the customer (210)",
                )
                .into(),
            Self::Rejected => language.pick("Rejetée", "Rejected").into(),
            Self::Cancelled => language.pick("Annulée (220)", "Cancelled (220)").into(),
            Self::FullyCredited => language
                .pick(
                    "Entièrement créditée par avoir",
                    "Fully credited by credit notes",
                )
                .into(),
            Self::CustomerExcluded => language
                .pick(
                    "Client exclu des relances",
                    "Customer excluded from reminders",
                )
                .into(),
            Self::NoDueDate => language.pick("Sans date d'échéance", "No due date").into(),
            Self::OpenDispute => language
                .pick(
                    "Suspendue : litige ouvert (207)",
                    "On hold: open dispute (207)",
                )
                .into(),
            Self::OpenRequest => language
                .pick(
                    "Suspendue : demande d'information ouverte (208)",
                    "On hold: open information request (208)",
                )
                .into(),
            Self::PaymentSent { until } => match language {
                Language::Fr => format!("Paiement annoncé (211) : reprise le {}", date(until)),
                Language::En => format!("Payment announced (211): resumes on {}", date(until)),
            },
            Self::NotYetDue { first } => match language {
                Language::Fr => format!("Première relance le {}", date(first)),
                Language::En => format!("First reminder on {}", date(first)),
            },
        }
    }
}

/// What the rule says for an invoice on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// This step is due (its day is `due_on`).
    Due { step: u16, due_on: NaiveDate },
    /// No reminder, for this reason.
    Held(Hold),
    /// The latest step whose day has come (`step`) or a later one was already sent or skipped.
    UpToDate { step: u16 },
}

/// The day a step falls on.
pub fn step_day(due_date: NaiveDate, step: u16) -> NaiveDate {
    due_date
        .checked_add_days(Days::new(u64::from(step)))
        .unwrap_or(NaiveDate::MAX)
}

/// The hold that applies whatever the schedule, if any (every reason of the rule but "not yet due").
pub fn hold(standing: &Standing, today: NaiveDate) -> Option<Hold> {
    let final_hold = if standing.paid_in_full {
        Some(Hold::Paid)
    } else if standing.refused {
        Some(Hold::Refused)
    } else if standing.rejected {
        Some(Hold::Rejected)
    } else if standing.cancelled {
        Some(Hold::Cancelled)
    } else if standing.fully_credited {
        Some(Hold::FullyCredited)
    } else if standing.customer_excluded {
        Some(Hold::CustomerExcluded)
    } else if standing.due_date.is_none() {
        Some(Hold::NoDueDate)
    } else {
        None
    };
    if final_hold.is_some() {
        return final_hold;
    }
    match standing.open_request.map(|code| code.0) {
        Some(207) => return Some(Hold::OpenDispute),
        Some(208) => return Some(Hold::OpenRequest),
        _ => {}
    }
    if let Some(sent) = standing.payment_sent_on {
        let until = sent
            .checked_add_days(Days::new(PAYMENT_SENT_GRACE_DAYS))
            .unwrap_or(NaiveDate::MAX);
        if today < until {
            return Some(Hold::PaymentSent { until });
        }
    }
    None
}

/// Which step is due for the invoice on `today`, given the steps already recorded for it (sent or skipped).
pub fn decide(
    schedule: &Schedule,
    standing: &Standing,
    today: NaiveDate,
    recorded: &[u16],
) -> Decision {
    if let Some(hold) = hold(standing, today) {
        return Decision::Held(hold);
    }
    let Some(due_date) = standing.due_date else {
        return Decision::Held(Hold::NoDueDate);
    };
    let latest = schedule
        .steps()
        .iter()
        .copied()
        .filter(|step| step_day(due_date, *step) <= today)
        .max();
    let Some(step) = latest else {
        return Decision::Held(Hold::NotYetDue {
            first: step_day(due_date, schedule.first()),
        });
    };
    if recorded.iter().any(|done| *done >= step) {
        Decision::UpToDate { step }
    } else {
        Decision::Due {
            step,
            due_on: step_day(due_date, step),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{InvoiceFacts, Source, StatusEvent};
    use chrono::TimeZone;
    use rust_decimal::Decimal;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn due() -> NaiveDate {
        day(2026, 10, 1)
    }

    fn standing() -> Standing {
        Standing {
            due_date: Some(due()),
            ..Standing::default()
        }
    }

    fn at(date: NaiveDate) -> DateTime<Utc> {
        Utc.from_utc_datetime(&date.and_hms_opt(9, 0, 0).unwrap_or_default())
    }

    fn event(code: u16, date: NaiveDate, key: &str) -> StatusEvent {
        StatusEvent::status(StatusCode(code), Source::Buyer, at(date), key)
    }

    fn lifecycle(events: &[StatusEvent]) -> Lifecycle {
        Lifecycle::fold(events, &InvoiceFacts::new(Decimal::new(10_000, 2)))
    }

    #[test]
    fn schedules_are_parsed_sorted_and_refused_in_words() {
        assert_eq!(
            Schedule::parse("7, 15, 30").map(|s| s.to_text()),
            Ok("7, 15, 30".into())
        );
        assert_eq!(
            Schedule::parse("30;7 15").map(|s| s.steps().to_vec()),
            Ok(vec![7, 15, 30])
        );
        assert_eq!(
            Schedule::parse("J+7, J+15").map(|s| s.steps().to_vec()),
            Ok(vec![7, 15])
        );
        assert_eq!(Schedule::parse("  "), Err(ScheduleError::Empty));
        assert_eq!(
            Schedule::parse("7, sept"),
            Err(ScheduleError::NotANumber("sept".into()))
        );
        assert_eq!(
            Schedule::parse("-3"),
            Err(ScheduleError::NotANumber("-3".into()))
        );
        assert_eq!(
            Schedule::parse("0"),
            Err(ScheduleError::OutOfRange("0".into()))
        );
        assert_eq!(
            Schedule::parse("400"),
            Err(ScheduleError::OutOfRange("400".into()))
        );
        assert_eq!(Schedule::parse("7, 7"), Err(ScheduleError::Duplicate(7)));
        assert_eq!(
            Schedule::parse("1 2 3 4 5 6 7 8 9 10 11"),
            Err(ScheduleError::TooMany)
        );
        assert_eq!(Schedule::default().steps(), &DEFAULT_STEPS);
        let error = ScheduleError::NotANumber("sept".into());
        assert!(error.label(Language::Fr).contains("« sept »"));
        assert!(error.label(Language::En).contains("\"sept\""));
    }

    #[test]
    fn nothing_before_the_first_step_then_each_step_on_its_day() {
        let schedule = Schedule::default();
        assert_eq!(
            decide(&schedule, &standing(), day(2026, 10, 7), &[]),
            Decision::Held(Hold::NotYetDue {
                first: day(2026, 10, 8)
            })
        );
        assert_eq!(
            decide(&schedule, &standing(), day(2026, 10, 8), &[]),
            Decision::Due {
                step: 7,
                due_on: day(2026, 10, 8)
            }
        );
        assert_eq!(
            decide(&schedule, &standing(), day(2026, 10, 10), &[7]),
            Decision::UpToDate { step: 7 }
        );
        assert_eq!(
            decide(&schedule, &standing(), day(2026, 10, 16), &[7]),
            Decision::Due {
                step: 15,
                due_on: day(2026, 10, 16)
            }
        );
        assert_eq!(
            decide(&schedule, &standing(), day(2026, 12, 31), &[7, 15, 30]),
            Decision::UpToDate { step: 30 }
        );
    }

    #[test]
    fn never_two_reminders_for_one_step_even_when_skipped() {
        let schedule = Schedule::default();
        // A skipped step counts as recorded: asking again the same day or later gives nothing new.
        for today in [day(2026, 10, 8), day(2026, 10, 12), day(2026, 10, 15)] {
            assert_eq!(
                decide(&schedule, &standing(), today, &[7]),
                Decision::UpToDate { step: 7 }
            );
        }
    }

    #[test]
    fn steps_missed_during_a_hold_give_only_the_latest_not_a_burst() {
        let schedule = Schedule::default();
        let mut held = standing();
        held.open_request = Some(StatusCode(207));
        // 207 open from day 5 to day 40: every step's day passes during it.
        for today in [
            day(2026, 10, 8),
            day(2026, 10, 16),
            day(2026, 10, 31),
            day(2026, 11, 9),
        ] {
            assert_eq!(
                decide(&schedule, &held, today, &[]),
                Decision::Held(Hold::OpenDispute)
            );
        }
        // It closes on day 41: only step 30 is due, once.
        let closed = standing();
        assert_eq!(
            decide(&schedule, &closed, day(2026, 11, 11), &[]),
            Decision::Due {
                step: 30,
                due_on: day(2026, 10, 31)
            }
        );
        assert_eq!(
            decide(&schedule, &closed, day(2026, 11, 12), &[30]),
            Decision::UpToDate { step: 30 }
        );
    }

    #[test]
    fn a_held_step_resumes_when_the_hold_ends() {
        let schedule = Schedule::default();
        let events_open = [
            event(203, day(2026, 9, 2), "a"),
            event(208, day(2026, 10, 10), "b"),
        ];
        let open = Standing::from_lifecycle(&lifecycle(&events_open), Some(due()), false, false);
        assert_eq!(open.open_request, Some(StatusCode(208)));
        assert_eq!(
            decide(&schedule, &open, day(2026, 10, 16), &[7]),
            Decision::Held(Hold::OpenRequest)
        );
        let mut events_closed = events_open.to_vec();
        events_closed.push(event(209, day(2026, 10, 18), "c"));
        let closed =
            Standing::from_lifecycle(&lifecycle(&events_closed), Some(due()), false, false);
        assert_eq!(
            decide(&schedule, &closed, day(2026, 10, 18), &[7]),
            Decision::Due {
                step: 15,
                due_on: day(2026, 10, 16)
            }
        );
    }

    #[test]
    fn five_days_without_reminder_after_payment_sent() {
        let schedule = Schedule::default();
        let events = [
            event(203, day(2026, 9, 2), "a"),
            event(211, day(2026, 10, 14), "b"),
        ];
        let standing = Standing::from_lifecycle(&lifecycle(&events), Some(due()), false, false);
        assert_eq!(standing.payment_sent_on, Some(day(2026, 10, 14)));
        let until = day(2026, 10, 19);
        for today in [day(2026, 10, 14), day(2026, 10, 16), day(2026, 10, 18)] {
            assert_eq!(
                decide(&schedule, &standing, today, &[7]),
                Decision::Held(Hold::PaymentSent { until })
            );
        }
        assert_eq!(
            decide(&schedule, &standing, until, &[7]),
            Decision::Due {
                step: 15,
                due_on: day(2026, 10, 16)
            }
        );
    }

    #[test]
    fn final_states_and_exclusions_stop_every_reminder() {
        let schedule = Schedule::default();
        let late = day(2026, 12, 1);
        let cases: [(Vec<StatusEvent>, Hold); 6] = [
            (
                vec![
                    event(203, day(2026, 9, 2), "a"),
                    event(212, day(2026, 10, 3), "b"),
                ],
                Hold::Paid,
            ),
            (vec![event(210, day(2026, 9, 3), "a")], Hold::Refused),
            (vec![event(213, day(2026, 9, 3), "a")], Hold::Rejected),
            (vec![event(251, day(2026, 9, 3), "a")], Hold::Rejected),
            (vec![event(501, day(2026, 9, 3), "a")], Hold::Rejected),
            (
                vec![
                    event(203, day(2026, 9, 2), "a"),
                    event(220, day(2026, 9, 3), "b"),
                ],
                Hold::Cancelled,
            ),
        ];
        for (events, expected) in cases {
            let mut events = events;
            // The 212 carries the whole amount.
            for event in &mut events {
                if event.code == Some(StatusCode(212)) {
                    event.amount = Some(Decimal::new(10_000, 2));
                }
            }
            let standing = Standing::from_lifecycle(&lifecycle(&events), Some(due()), false, false);
            assert_eq!(
                decide(&schedule, &standing, late, &[]),
                Decision::Held(expected),
                "{events:?}"
            );
            assert!(!expected.is_temporary());
        }
        let credited = Standing::from_lifecycle(&lifecycle(&[]), Some(due()), true, false);
        assert_eq!(
            decide(&schedule, &credited, late, &[]),
            Decision::Held(Hold::FullyCredited)
        );
        let excluded = Standing::from_lifecycle(&lifecycle(&[]), Some(due()), false, true);
        assert_eq!(
            decide(&schedule, &excluded, late, &[]),
            Decision::Held(Hold::CustomerExcluded)
        );
        let no_due = Standing::default();
        assert_eq!(
            decide(&schedule, &no_due, late, &[]),
            Decision::Held(Hold::NoDueDate)
        );
    }

    #[test]
    fn a_partial_payment_does_not_stop_reminders() {
        let mut paid = event(212, day(2026, 10, 3), "b");
        paid.amount = Some(Decimal::new(4_000, 2));
        let events = [event(203, day(2026, 9, 2), "a"), paid];
        let standing = Standing::from_lifecycle(&lifecycle(&events), Some(due()), false, false);
        assert_eq!(
            decide(&Schedule::default(), &standing, day(2026, 10, 9), &[]),
            Decision::Due {
                step: 7,
                due_on: day(2026, 10, 8)
            }
        );
    }

    #[test]
    fn a_doublon_after_delivery_is_not_a_rejection() {
        let events = [
            event(203, day(2026, 9, 2), "a"),
            event(213, day(2026, 9, 5), "b").with_reasons(["DOUBLON"]),
        ];
        let standing = Standing::from_lifecycle(&lifecycle(&events), Some(due()), false, false);
        assert!(!standing.rejected);
        assert_eq!(
            decide(&Schedule::default(), &standing, day(2026, 10, 9), &[]),
            Decision::Due {
                step: 7,
                due_on: day(2026, 10, 8)
            }
        );
        // Before delivery, the same 213 is a rejection.
        let undelivered = [event(213, day(2026, 9, 5), "b").with_reasons(["DOUBLON"])];
        let standing =
            Standing::from_lifecycle(&lifecycle(&undelivered), Some(due()), false, false);
        assert_eq!(
            decide(&Schedule::default(), &standing, day(2026, 10, 9), &[]),
            Decision::Held(Hold::Rejected)
        );
    }

    #[test]
    fn a_final_hold_wins_over_a_temporary_one_and_labels_are_in_both_languages() {
        let mut standing = standing();
        standing.open_request = Some(StatusCode(207));
        standing.paid_in_full = true;
        assert_eq!(hold(&standing, day(2026, 11, 1)), Some(Hold::Paid));
        for hold in [
            Hold::OpenDispute,
            Hold::PaymentSent {
                until: day(2026, 10, 19),
            },
            Hold::NotYetDue {
                first: day(2026, 10, 8),
            },
        ] {
            assert!(hold.is_temporary());
            assert_ne!(hold.label(Language::Fr), hold.label(Language::En));
        }
        assert!(
            Hold::PaymentSent {
                until: day(2026, 10, 19)
            }
            .label(Language::Fr)
            .contains("19/10/2026")
        );
    }
}
