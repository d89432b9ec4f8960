//! CSV files as French spreadsheet software opens them right: UTF-8 with a byte-order mark, `;` between fields,
//! amounts with a decimal comma in French (`1 234,50`), dates and times in Paris time. Reading accepts what such
//! software writes back (a BOM or none, `;` or `,`), and says in words what is wrong with a file.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use portal_domain::Language;

/// The UTF-8 byte-order mark: how spreadsheet software knows the file is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The largest file read (1 MiB: thousands of customers).
pub const MAX_BYTES: usize = 1024 * 1024;
/// The most rows read from one file.
pub const MAX_ROWS: usize = 5_000;

/// One line of a CSV file (`;`-separated, quoted where needed, CRLF), for the exports' streams.
pub fn line<I, S>(fields: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    if let Err(error) = writer.write_record(fields) {
        // Writing into memory cannot fail but for a bug: an empty line rather than a broken file.
        tracing::error!(error = %error, "a CSV line could not be written");
        return b"\r\n".to_vec();
    }
    writer.into_inner().unwrap_or_default()
}

/// An amount in cents as spreadsheet software reads a number: French `1 234,50` (no-break space between
/// thousands, decimal comma), English `1234.50`.
pub fn amount(cents: i64, lang: Language) -> String {
    let magnitude = cents.unsigned_abs();
    let sign = if cents < 0 { "-" } else { "" };
    let units = (magnitude / 100).to_string();
    let fraction = magnitude % 100;
    match lang {
        Language::Fr => {
            let mut grouped = String::new();
            for (position, digit) in units.chars().enumerate() {
                if position > 0 && (units.len() - position).is_multiple_of(3) {
                    grouped.push('\u{a0}');
                }
                grouped.push(digit);
            }
            format!("{sign}{grouped},{fraction:02}")
        }
        Language::En => format!("{sign}{units}.{fraction:02}"),
    }
}

/// Midnight in Paris at the start of `day`, as an instant (a period's bounds are Paris days).
pub fn paris_midnight(day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match Paris.from_local_datetime(&naive) {
        chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
            at.with_timezone(&Utc)
        }
        // Paris never skips midnight; should it, the UTC midnight is close enough for a bound.
        chrono::LocalResult::None => Utc.from_utc_datetime(&naive),
    }
}

/// A file read: its header (trimmed) and its rows, each with its line number in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Why a file cannot be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadProblem {
    #[error("the file is empty")]
    Empty,
    #[error("the file is too large")]
    TooLarge,
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    #[error("the file has too many rows")]
    TooManyRows,
    #[error("the file is not readable CSV")]
    Malformed,
}

impl ReadProblem {
    /// The catalogue key of its message.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::Empty => "csv.problem.empty",
            Self::TooLarge => "csv.problem.too_large",
            Self::NotUtf8 => "csv.problem.not_utf8",
            Self::TooManyRows => "csv.problem.too_many_rows",
            Self::Malformed => "csv.problem.malformed",
        }
    }
}

/// Reads a CSV file: UTF-8 (with or without BOM), `;` or `,` (whichever the header line uses more), a header
/// line then rows; blank rows are skipped.
pub fn read(bytes: &[u8]) -> Result<Table, ReadProblem> {
    if bytes.len() > MAX_BYTES {
        return Err(ReadProblem::TooLarge);
    }
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| ReadProblem::NotUtf8)?;
    if text.trim().is_empty() {
        return Err(ReadProblem::Empty);
    }
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.matches(',').count() > first.matches(';').count() {
        b','
    } else {
        b';'
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| ReadProblem::Malformed)?
        .iter()
        .map(|header| header.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    // Line numbers from the records' byte offsets (lines counted as the file's reader sees them).
    let (mut counted_to, mut line) = (0usize, 1u64);
    for record in reader.records() {
        let record = record.map_err(|_| ReadProblem::Malformed)?;
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        if rows.len() >= MAX_ROWS {
            return Err(ReadProblem::TooManyRows);
        }
        let mut start = record
            .position()
            .and_then(|position| usize::try_from(position.byte()).ok())
            .unwrap_or(counted_to)
            .clamp(counted_to, text.len());
        // After a CRLF the reader's position is the LF's: the record starts after the line break.
        while start < text.len() && matches!(text.as_bytes()[start], b'\r' | b'\n') {
            start += 1;
        }
        line += text.as_bytes()[counted_to..start]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count() as u64;
        counted_to = start;
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(Table { headers, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_numbers_in_each_language() {
        assert_eq!(amount(123_450, Language::Fr), "1\u{a0}234,50");
        assert_eq!(amount(-5, Language::Fr), "-0,05");
        assert_eq!(amount(123_450_000, Language::Fr), "1\u{a0}234\u{a0}500,00");
        assert_eq!(amount(123_450, Language::En), "1234.50");
    }

    #[test]
    fn lines_are_semicolon_separated_and_quoted_when_needed() {
        assert_eq!(
            line(["a", "b;c", "d\"e"]),
            b"a;\"b;c\";\"d\"\"e\"\r\n".to_vec()
        );
    }

    #[test]
    fn files_with_a_bom_either_separator_and_blank_rows_are_read() {
        let table = read(b"\xEF\xBB\xBFname;siren\r\nA;1\r\n;\r\nB;2\r\n").unwrap();
        assert_eq!(table.headers, vec!["name", "siren"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1].0, 4);
        let table = read(b"name,siren\nA,1\n").unwrap();
        assert_eq!(table.rows[0].1, vec!["A", "1"]);
        assert_eq!(read(b"\xff\xfe"), Err(ReadProblem::NotUtf8));
        assert_eq!(read(b"  \n"), Err(ReadProblem::Empty));
    }

    #[test]
    fn a_paris_day_starts_at_its_midnight() {
        let winter = paris_midnight(NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
        assert_eq!(winter.to_rfc3339(), "2026-01-14T23:00:00+00:00");
        let summer = paris_midnight(NaiveDate::from_ymd_opt(2026, 7, 15).unwrap());
        assert_eq!(summer.to_rfc3339(), "2026-07-14T22:00:00+00:00");
    }
}
