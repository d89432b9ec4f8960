//! The rules of a company's Billit connection that do not need Billit to decide: when the API key must be typed
//! again, which company a key acts for and whether that company is the tenant's own, how long the directory's
//! answer about a buyer is trusted, and what a company may call itself when it sends emails.
//!
//! The callers ask Billit (or the database) for the facts and these functions decide; the messages stay with the
//! callers.

use crate::identifiers::{Siren, VatNumber};
use chrono::{DateTime, Duration, Utc};

/// A PartyID and a ContextPartyID, as stored or as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parties {
    pub party_id: Option<i64>,
    pub context_party_id: Option<i64>,
}

impl Parties {
    /// The company a key acts for: the ContextPartyID if given (an accountant acting for a client), else the
    /// PartyID.
    pub fn acted_for(&self) -> Option<i64> {
        self.context_party_id.or(self.party_id)
    }
}

/// Whether saving `proposed` parties needs the API key typed again: a stored key may open several companies (an
/// accountant's), so pointing it at another party or context without knowing it would send invoices as another
/// company. Nothing stored, or no key stored: nothing to protect.
pub fn key_needed_again(stored: Option<(bool, Parties)>, proposed: Parties) -> bool {
    stored.is_some_and(|(has_key, stored)| has_key && stored != proposed)
}

/// One company a key opens, as Billit's account information lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCompany<'a> {
    pub party_id: Option<i64>,
    pub vat_number: Option<&'a str>,
}

/// Why the company a key would act for is not the tenant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairProblem {
    /// The key does not open that company.
    NotAmongCompanies,
    /// It opens it, but its VAT number (shown, if any) is not the French one of the tenant's SIREN.
    OtherCompany { vat: Option<String> },
}

/// Among the companies a key opens, the one `acted_for`, if it is the tenant's own: its VAT number is the French
/// number of `tenant_siren`. Returns the caller's item for that company.
pub fn tenant_company<'a, T>(
    companies: impl IntoIterator<Item = (T, KeyCompany<'a>)>,
    acted_for: i64,
    tenant_siren: &str,
) -> Result<T, PairProblem> {
    let (item, company) = companies
        .into_iter()
        .find(|(_, company)| company.party_id == Some(acted_for))
        .ok_or(PairProblem::NotAmongCompanies)?;
    let belongs = Siren::parse(tenant_siren).is_ok_and(|siren| {
        company
            .vat_number
            .is_some_and(|vat| VatNumber::parse_for(vat, siren).is_ok())
    });
    if belongs {
        Ok(item)
    } else {
        Err(PairProblem::OtherCompany {
            vat: company.vat_number.map(str::to_owned),
        })
    }
}

/// How long the directory's answer about a buyer's electronic address is trusted.
pub const DIRECTORY_ANSWER_FRESH_FOR: Duration = Duration::hours(24);

/// Whether an answer kept about `kept_address` at `checked_at` still answers for `address` at `now`: the same
/// address (a changed one is asked again), asked less than a day ago.
pub fn directory_answer_fresh(
    kept_address: &str,
    checked_at: DateTime<Utc>,
    address: &str,
    now: DateTime<Utc>,
) -> bool {
    kept_address == address && now - checked_at < DIRECTORY_ANSWER_FRESH_FOR
}

/// The longest sender name a company may choose.
pub const MAX_SENDER_NAME: usize = 60;

/// Characters a sender name may not hold: with them a display name can pass for an address
/// (`"support@bank.example" <…>`) or break out of its quotes.
const SENDER_NAME_FORBIDDEN: &[char] = &['@', '<', '>', '"', '\\', ';', ',', ':'];

/// Why a sender name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderNameProblem {
    /// Over [`MAX_SENDER_NAME`] characters.
    TooLong,
    /// A control character or one that makes it look like an address.
    Characters,
}

/// Why the sender name a company typed is refused (trimmed first); `None` when it is fine. Empty is fine (the
/// company's legal name is used).
pub fn sender_name_problem(name: &str) -> Option<SenderNameProblem> {
    let name = name.trim();
    if name.chars().count() > MAX_SENDER_NAME {
        Some(SenderNameProblem::TooLong)
    } else if name.chars().any(forbidden_in_sender_name) {
        Some(SenderNameProblem::Characters)
    } else {
        None
    }
}

/// A name made to follow the rules (one stored before them, or a legal name): forbidden characters left out,
/// cut at [`MAX_SENDER_NAME`] characters, trimmed.
pub fn sender_name_cleaned(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !forbidden_in_sender_name(*c))
        .take(MAX_SENDER_NAME)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn forbidden_in_sender_name(c: char) -> bool {
    c.is_control() || SENDER_NAME_FORBIDDEN.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACME_SIREN: &str = "732829320";

    fn parties(party_id: Option<i64>, context_party_id: Option<i64>) -> Parties {
        Parties {
            party_id,
            context_party_id,
        }
    }

    #[test]
    fn the_key_is_needed_again_only_to_move_a_stored_key() {
        let stored = parties(Some(1), Some(2));
        assert!(!key_needed_again(None, parties(Some(9), None)));
        assert!(!key_needed_again(
            Some((false, stored)),
            parties(Some(9), None)
        ));
        assert!(!key_needed_again(Some((true, stored)), stored));
        assert!(key_needed_again(
            Some((true, stored)),
            parties(Some(1), None)
        ));
        assert!(key_needed_again(
            Some((true, stored)),
            parties(Some(1), Some(3))
        ));
        assert!(key_needed_again(
            Some((true, stored)),
            parties(Some(4), Some(2))
        ));
        assert!(key_needed_again(
            Some((true, parties(Some(1), None))),
            parties(None, None)
        ));
    }

    #[test]
    fn the_company_acted_for_is_the_context_party_if_given() {
        assert_eq!(parties(Some(1), Some(2)).acted_for(), Some(2));
        assert_eq!(parties(Some(1), None).acted_for(), Some(1));
        assert_eq!(parties(None, None).acted_for(), None);
    }

    #[test]
    fn the_company_acted_for_must_be_the_tenants_own_among_the_keys_companies() {
        let listed = [
            (10, Some("FR44732829320")),
            (11, Some("fr 44 732 829 320")),
            (20, Some("FR64443061841")),
            (30, None),
            (40, Some("FR45732829320")),
            (50, Some("BE0123456749")),
        ];
        let companies = || {
            listed.iter().map(|(party, vat)| {
                (
                    *party,
                    KeyCompany {
                        party_id: Some(*party),
                        vat_number: *vat,
                    },
                )
            })
        };
        assert_eq!(tenant_company(companies(), 10, ACME_SIREN), Ok(10));
        assert_eq!(tenant_company(companies(), 11, ACME_SIREN), Ok(11));
        assert_eq!(
            tenant_company(companies(), 99, ACME_SIREN),
            Err(PairProblem::NotAmongCompanies)
        );
        // Another SIREN, no VAT number, a key that does not match its SIREN, a foreign number.
        assert_eq!(
            tenant_company(companies(), 20, ACME_SIREN),
            Err(PairProblem::OtherCompany {
                vat: Some("FR64443061841".into())
            })
        );
        for party in [30, 40, 50] {
            assert!(
                matches!(
                    tenant_company(companies(), party, ACME_SIREN),
                    Err(PairProblem::OtherCompany { .. })
                ),
                "{party}"
            );
        }
        assert_eq!(tenant_company(companies(), 20, "443061841"), Ok(20));
        // A tenant SIREN that is not one matches nothing.
        assert!(tenant_company(companies(), 10, "123").is_err());
        assert_eq!(
            tenant_company(std::iter::empty::<((), KeyCompany)>(), 10, ACME_SIREN),
            Err(PairProblem::NotAmongCompanies)
        );
    }

    #[test]
    fn the_directory_answer_is_trusted_for_a_day_and_for_its_address() {
        let checked = DateTime::parse_from_rfc3339("2026-11-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let address = "0225:732829320";
        assert!(directory_answer_fresh(address, checked, address, checked));
        assert!(directory_answer_fresh(
            address,
            checked,
            address,
            checked + Duration::hours(24) - Duration::seconds(1)
        ));
        assert!(!directory_answer_fresh(
            address,
            checked,
            address,
            checked + Duration::hours(24)
        ));
        assert!(!directory_answer_fresh(
            address,
            checked,
            "0225:443061841",
            checked
        ));
    }

    #[test]
    fn a_sender_name_is_a_name_not_an_address() {
        assert_eq!(sender_name_problem("ACME SAS – Comptabilité"), None);
        assert_eq!(sender_name_problem(""), None);
        for bad in [
            "support@bank.example",
            "A <b>",
            "say \"hi\"",
            "a\r\nBcc: x",
            "x;y",
            "a,b",
            "a:b",
            "back\\slash",
        ] {
            assert_eq!(
                sender_name_problem(bad),
                Some(SenderNameProblem::Characters),
                "{bad:?}"
            );
        }
        assert_eq!(
            sender_name_problem(&"é".repeat(MAX_SENDER_NAME + 1)),
            Some(SenderNameProblem::TooLong)
        );
        assert_eq!(sender_name_problem(&"é".repeat(MAX_SENDER_NAME)), None);
        assert_eq!(
            sender_name_problem(&format!("  {}  ", "é".repeat(MAX_SENDER_NAME))),
            None,
            "trimmed first"
        );
    }

    #[test]
    fn a_stored_name_is_cleaned_to_follow_the_rules() {
        assert_eq!(sender_name_cleaned(" ACME <SAS> "), "ACME SAS");
        assert_eq!(sender_name_cleaned("a@b.example"), "ab.example");
        assert_eq!(
            sender_name_cleaned(&"x".repeat(MAX_SENDER_NAME + 10)).len(),
            MAX_SENDER_NAME
        );
        assert_eq!(sender_name_cleaned("\"  \""), "");
    }
}
