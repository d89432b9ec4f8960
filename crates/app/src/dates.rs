//! Dates and times as people read them, on pages and in emails: French `30/11/2026 14:05`, English
//! `2026-11-30 14:05`. Instants are stored in UTC and always shown in Paris time (Europe/Paris, summer time
//! included), whatever the server's zone, because every tenant is a French company: a time a person reads goes
//! through [`date_time`] (or [`date_time_seconds`]), a day through [`paris_date`].

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Paris;
use portal_domain::Language;

/// The day it is in Paris at `at`.
pub fn paris_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Paris).date_naive()
}

/// Today in Paris.
pub fn today() -> NaiveDate {
    paris_date(Utc::now())
}

/// A calendar date: `30/11/2026` / `2026-11-30`.
pub fn date(date: NaiveDate, lang: Language) -> String {
    match lang {
        Language::Fr => date.format("%d/%m/%Y").to_string(),
        Language::En => date.format("%Y-%m-%d").to_string(),
    }
}

/// An optional date, or a dash.
pub fn date_or_dash(value: Option<NaiveDate>, lang: Language) -> String {
    value.map_or_else(|| "—".to_owned(), |value| date(value, lang))
}

/// An instant in Paris time: `30/11/2026 14:05` / `2026-11-30 14:05`.
pub fn date_time(at: DateTime<Utc>, lang: Language) -> String {
    let local = at.with_timezone(&Paris);
    match lang {
        Language::Fr => local.format("%d/%m/%Y %H:%M").to_string(),
        Language::En => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// An instant in Paris time to the second, for records read closely (the audit log): `30/11/2026 14:05:09`.
pub fn date_time_seconds(at: DateTime<Utc>, lang: Language) -> String {
    let local = at.with_timezone(&Paris);
    match lang {
        Language::Fr => local.format("%d/%m/%Y %H:%M:%S").to_string(),
        Language::En => local.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

/// Whole days from `since` to `now` in Paris calendar days (0 on the same day), never negative.
pub fn days_between(since: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (paris_date(now) - paris_date(since)).num_days().max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn dates_in_each_language() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
        assert_eq!(date(day, Language::Fr), "30/11/2026");
        assert_eq!(date(day, Language::En), "2026-11-30");
        assert_eq!(date_or_dash(None, Language::Fr), "—");
    }

    #[test]
    fn times_are_shown_in_paris_time_across_daylight_saving() {
        // Winter (UTC+1): 23:30 UTC is already the next day in Paris.
        let winter = utc(2026, 11, 30, 23, 30, 0);
        assert_eq!(date_time(winter, Language::Fr), "01/12/2026 00:30");
        assert_eq!(date_time(winter, Language::En), "2026-12-01 00:30");
        assert_eq!(
            date_time_seconds(winter, Language::Fr),
            "01/12/2026 00:30:00"
        );
        assert_eq!(
            paris_date(winter),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
        );
        // Summer (UTC+2).
        let summer = utc(2026, 6, 2, 9, 29, 2);
        assert_eq!(date_time(summer, Language::Fr), "02/06/2026 11:29");
        assert_eq!(
            date_time_seconds(summer, Language::En),
            "2026-06-02 11:29:02"
        );
        // New Year's Eve: another year in Paris.
        let new_year = utc(2026, 12, 31, 23, 15, 0);
        assert_eq!(date_time(new_year, Language::En), "2027-01-01 00:15");
    }

    #[test]
    fn days_are_counted_in_paris_calendar_days() {
        let since = utc(2026, 11, 27, 22, 30, 0); // 23:30 in Paris
        let now = utc(2026, 11, 28, 0, 30, 0); // 01:30 the next day
        assert_eq!(days_between(since, now), 1);
        assert_eq!(days_between(now, since), 0, "never negative");
    }
}
