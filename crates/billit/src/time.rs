//! Billit's date-times carry no time zone: they are Europe/Brussels local time. This module is
//! the one place where they are converted to and from UTC.
//!
//! Decisions:
//! - a local time that happens twice (the autumn change) is read as the earlier instant;
//! - a local time that does not exist (the spring gap) is read with the winter offset (+01:00);
//! - a text that carries its own offset (`Z`, `+02:00`) is read with that offset;
//! - accepted shapes: `2026-06-02T11:29:02.493`, `2026-06-02T11:29:02`, `2026-06-02 11:29:02`,
//!   `2026-06-02`, `31/01/2000`, `31/01/2000 11:29:02`, and RFC 3339.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::Brussels;

/// Converts a Brussels local time to UTC (never fails; see the module's decisions).
pub fn brussels_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    match Brussels.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        LocalResult::None => {
            // In the spring gap: read with the winter offset (+01:00).
            let shifted = local
                .checked_sub_signed(TimeDelta::hours(1))
                .unwrap_or(local);
            Utc.from_utc_datetime(&shifted)
        }
    }
}

/// Converts a UTC instant to Brussels local time (what Billit expects in filters and bodies).
pub fn utc_to_brussels(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&Brussels).naive_local()
}

/// Formats a UTC instant as Billit writes date-times: Brussels local time, no zone,
/// e.g. `2026-06-01T02:00:00` (milliseconds only when there are some).
pub fn format_billit(at: DateTime<Utc>) -> String {
    let local = utc_to_brussels(at);
    if local.and_utc().timestamp_subsec_millis() == 0 {
        local.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
    }
}

/// Parses a Brussels local date-time as Billit writes it (see the module for the shapes).
pub fn parse_local(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    const DATE_TIMES: [&str; 5] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ];
    for format in DATE_TIMES {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return Some(local);
        }
    }
    for format in ["%Y-%m-%d", "%d/%m/%Y"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(date.and_time(chrono::NaiveTime::MIN));
        }
    }
    None
}

/// Parses a Billit date-time to UTC: Brussels local time unless the text carries an offset.
pub fn parse_billit(text: &str) -> Option<DateTime<Utc>> {
    let trimmed = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        return Some(at.with_timezone(&Utc));
    }
    parse_local(trimmed).map(brussels_to_utc)
}

/// The local date part (`YYYY-MM-DD`) of a Billit date-time, as written (no conversion).
pub fn local_date(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        return Some(
            at.with_timezone(&Brussels)
                .date_naive()
                .format("%Y-%m-%d")
                .to_string(),
        );
    }
    parse_local(trimmed).map(|local| local.date().format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summer_and_winter_offsets() {
        assert_eq!(
            parse_billit("2026-06-02T11:29:02.493").map(|at| at.to_rfc3339()),
            Some("2026-06-02T09:29:02.493+00:00".to_owned())
        );
        assert_eq!(
            parse_billit("2026-01-15T10:00:00").map(|at| at.to_rfc3339()),
            Some("2026-01-15T09:00:00+00:00".to_owned())
        );
        assert_eq!(
            parse_billit("31/01/2000").map(|at| at.to_rfc3339()),
            Some("2000-01-30T23:00:00+00:00".to_owned())
        );
        assert_eq!(
            parse_billit("2026-06-02T11:29:02Z").map(|at| at.to_rfc3339()),
            Some("2026-06-02T11:29:02+00:00".to_owned())
        );
        assert_eq!(parse_billit("not a date"), None);
        assert_eq!(parse_billit(""), None);
    }

    #[test]
    fn gaps_and_overlaps_do_not_panic() {
        // 2026-03-29 02:30 does not exist in Brussels; 2026-10-25 02:30 happens twice.
        let gap = parse_billit("2026-03-29T02:30:00").map(|at| at.to_rfc3339());
        assert_eq!(gap, Some("2026-03-29T01:30:00+00:00".to_owned()));
        let overlap = parse_billit("2026-10-25T02:30:00").map(|at| at.to_rfc3339());
        assert_eq!(overlap, Some("2026-10-25T00:30:00+00:00".to_owned()));
    }

    #[test]
    fn formats_back_in_brussels_time() {
        let at = parse_billit("2026-06-01T00:00:00");
        assert_eq!(
            at.map(format_billit),
            Some("2026-06-01T00:00:00".to_owned())
        );
        let at = parse_billit("2026-06-02T11:29:02.493");
        assert_eq!(
            at.map(format_billit),
            Some("2026-06-02T11:29:02.493".to_owned())
        );
    }
}
