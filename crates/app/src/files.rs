//! Names and types of files that come from outside (a user's upload, a file Billit gives), made safe once and in
//! one way before they are stored, attached to an email or served: [`safe_file_name`], [`safe_mime`], and
//! [`content_disposition`] for the header that serves them.
//!
//! A name keeps its letters, accents included (`relevé.pdf`): emails encode them (RFC 2231, done by the mailer's
//! library) and the download header carries them as `filename*` (RFC 6266/8187) next to an ASCII `filename`.

/// The type of anything unknown or risky: browsers only offer to save it.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The longest name kept, in characters, and in UTF-8 bytes (file systems allow 255).
const MAX_CHARS: usize = 120;
const MAX_BYTES: usize = 200;
/// Longer than this after its last dot, it is not an extension worth keeping when the name is cut.
const MAX_EXTENSION: usize = 10;

/// Printable characters some file system, shell or header parser reads as syntax: each becomes `_`.
const RESERVED: &[char] = &['"', '*', ':', '<', '>', '?', '|', ';', '%'];

/// Names Windows keeps for devices, whatever their extension.
const DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Types a browser could run as part of the portal: served and attached as plain bytes.
const RISKY: &[&str] = &[
    "html",
    "svg",
    "javascript",
    "ecmascript",
    "jscript",
    "vbscript",
    "xsl",
    "x-shockwave-flash",
];

/// A file name safe in a `Content-Disposition` header, in an email and on any file system:
/// - only its last path segment (`C:\Users\x\a.pdf`, `../../a.pdf` → `a.pdf`);
/// - no control or invisible characters (line breaks, bidirectional overrides, zero widths), removed;
/// - no `" * : < > ? | ; %` (each becomes `_`), spaces of any kind become one plain space;
/// - no dot or space at either end (no hidden file, nothing Windows would strip), not a Windows device name
///   (`CON.txt` → `_CON.txt`);
/// - at most 120 characters and 200 bytes, cut in its stem so that its extension stays;
/// - letters of any script kept, accents included.
///
/// A name with no letter or digit left (or none at all) becomes `fallback_stem` with the extension of `mime`
/// (`fallback_stem` is the caller's, already safe).
pub fn safe_file_name(name: Option<&str>, mime: &str, fallback_stem: &str) -> String {
    let cleaned = clean(name.unwrap_or_default());
    if cleaned.chars().any(char::is_alphanumeric) {
        cleaned
    } else {
        format!("{fallback_stem}{}", extension_for(mime))
    }
}

fn clean(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut cleaned = String::with_capacity(last.len());
    for c in last.chars() {
        if is_invisible(c) {
            continue;
        }
        let c = if c.is_whitespace() {
            ' '
        } else if RESERVED.contains(&c) {
            '_'
        } else {
            c
        };
        if c == ' ' && cleaned.ends_with(' ') {
            continue;
        }
        cleaned.push(c);
    }
    let cleaned = bounded(trim(&cleaned));
    let stem = cleaned.split('.').next().unwrap_or_default();
    if DEVICES.contains(&stem.trim().to_ascii_lowercase().as_str()) {
        format!("_{cleaned}")
    } else {
        cleaned
    }
}

fn trim(name: &str) -> &str {
    name.trim_matches(|c| c == ' ' || c == '.')
}

/// Control characters and the invisible ones that change how a name reads (`invoice\u{202e}fdp.exe`).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{61c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// The name cut to the limits, in its stem when it has a short extension.
fn bounded(name: &str) -> String {
    if name.chars().count() <= MAX_CHARS && name.len() <= MAX_BYTES {
        return name.to_owned();
    }
    let (stem, extension) = match name.rfind('.') {
        Some(dot)
            if dot > 0
                && name[dot + 1..].chars().count() <= MAX_EXTENSION
                && name[dot + 1..].chars().all(char::is_alphanumeric) =>
        {
            (&name[..dot], &name[dot..])
        }
        _ => (name, ""),
    };
    let extension_chars = extension.chars().count();
    let mut kept = String::new();
    for (count, c) in stem.chars().enumerate() {
        if count + 1 + extension_chars > MAX_CHARS
            || kept.len() + c.len_utf8() + extension.len() > MAX_BYTES
        {
            break;
        }
        kept.push(c);
    }
    format!("{}{extension}", trim(&kept))
}

/// The extension a fallback name takes for its type.
fn extension_for(mime: &str) -> &'static str {
    match mime {
        "application/pdf" => ".pdf",
        "application/xml" | "text/xml" => ".xml",
        "application/json" => ".json",
        "application/zip" => ".zip",
        "text/csv" => ".csv",
        "text/plain" => ".txt",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        _ => "",
    }
}

/// A file's type, safe to serve and attach: the declared one (parameters dropped, lowercased) when it is a
/// well-formed `type/subtype` other than `application/octet-stream`, else the one its name suggests; and
/// `application/octet-stream` for what is neither known nor safe, including anything a browser could run as part
/// of the portal (HTML, SVG, scripts, XSL, Flash).
pub fn safe_mime(declared: Option<&str>, name: &str) -> String {
    let essence = declared
        .and_then(|text| text.split(';').next())
        .map(|text| text.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let chosen = if well_formed(&essence) && essence != OCTET_STREAM {
        essence
    } else {
        mime_guess::from_path(name)
            .first_or_octet_stream()
            .essence_str()
            .to_ascii_lowercase()
    };
    if !well_formed(&chosen) || RISKY.iter().any(|risky| chosen.contains(risky)) {
        OCTET_STREAM.to_owned()
    } else {
        chosen
    }
}

/// `type/subtype` of RFC 6838's restricted names.
fn well_formed(essence: &str) -> bool {
    essence.split_once('/').is_some_and(|(kind, subtype)| {
        let token = |part: &str| {
            !part.is_empty()
                && part.len() <= 127
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
        };
        token(kind) && token(subtype)
    })
}

/// The `Content-Disposition` header that downloads a file under `name`: `attachment; filename="<ASCII>"`, plus
/// `filename*=UTF-8''<percent-encoded>` when the name is not plain ASCII (RFC 6266). Always a valid header value
/// (visible ASCII only), whatever `name` holds.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .flat_map(|c| {
            let folded = match c {
                ' '..='~' if c != '"' && c != '\\' => return vec![c],
                _ => fold(c),
            };
            if folded.is_empty() {
                vec!['_']
            } else {
                folded.chars().collect()
            }
        })
        .collect();
    if ascii == name {
        return format!("attachment; filename=\"{ascii}\"");
    }
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The ASCII letters of an accented Latin letter (French first); empty for anything else.
fn fold(c: char) -> &'static str {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'ç' => "c",
        'Ç' => "C",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'ñ' => "n",
        'Ñ' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => "O",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' | 'Ÿ' => "Y",
        'œ' => "oe",
        'Œ' => "OE",
        'æ' => "ae",
        'Æ' => "AE",
        'ß' => "ss",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &str = "application/pdf";

    #[test]
    fn file_names_are_made_safe() {
        let name = |raw: &str| safe_file_name(Some(raw), PDF, "piece-jointe");
        // Only the last path segment, whichever separator.
        assert_eq!(name("C:\\Users\\x\\relevé.pdf"), "relevé.pdf");
        assert_eq!(name("../../etc/passwd"), "passwd");
        assert_eq!(name("../../etc/pass\"wd.xml"), "pass_wd.xml");
        // No control or invisible characters; syntax characters become `_`; accents and spaces stay.
        assert_eq!(name("a\"b\r\n.txt"), "a_b.txt");
        assert_eq!(name("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(name("Facture n°1.pdf"), "Facture n°1.pdf");
        assert_eq!(
            name("Relevé d'identité;bancaire 100%.pdf"),
            "Relevé d'identité_bancaire 100_.pdf"
        );
        assert_eq!(name("  deux\t\u{a0} espaces  .pdf"), "deux espaces .pdf");
        assert_eq!(name("a:b*c?d<e>f|g.pdf"), "a_b_c_d_e_f_g.pdf");
        // No hidden file, no trailing dot, no device name.
        assert_eq!(name(".htaccess"), "htaccess");
        assert_eq!(name("rapport.pdf. . "), "rapport.pdf");
        assert_eq!(name("CON.txt"), "_CON.txt");
        assert_eq!(name("nul"), "_nul");
        assert_eq!(name("console.txt"), "console.txt");
        // Bounded, the extension kept.
        let long = name(&format!("{}.pdf", "a".repeat(300)));
        assert_eq!(long.chars().count(), 120);
        assert!(long.ends_with("aaa.pdf"));
        let wide = name(&format!("{}.pdf", "é".repeat(150)));
        assert!(wide.len() <= 200 && wide.ends_with("é.pdf"), "{wide}");
        let no_extension = name(&"b".repeat(300));
        assert_eq!(no_extension, "b".repeat(120));
        // Nothing usable left: the fallback, with the extension of the type.
        assert_eq!(name("..."), "piece-jointe.pdf");
        assert_eq!(name("/"), "piece-jointe.pdf");
        assert_eq!(name("\"\u{200b}\""), "piece-jointe.pdf");
        assert_eq!(
            safe_file_name(None, PDF, "billit-0b6c4e1f9a"),
            "billit-0b6c4e1f9a.pdf"
        );
        assert_eq!(
            safe_file_name(Some(""), OCTET_STREAM, "piece-jointe"),
            "piece-jointe"
        );
    }

    #[test]
    fn file_types_are_made_safe() {
        assert_eq!(safe_mime(Some(PDF), "x"), PDF);
        assert_eq!(safe_mime(Some("APPLICATION/PDF"), "x"), PDF);
        assert_eq!(safe_mime(Some("text/csv"), "x.csv"), "text/csv");
        assert_eq!(safe_mime(Some("application/xml"), "x"), "application/xml");
        // No or no usable declared type: the name's.
        assert_eq!(safe_mime(None, "bon.pdf"), PDF);
        assert_eq!(safe_mime(Some(""), "bon.pdf"), PDF);
        assert_eq!(safe_mime(Some(OCTET_STREAM), "photo.png"), "image/png");
        assert_eq!(safe_mime(Some("not a type"), "x"), OCTET_STREAM);
        assert_eq!(safe_mime(None, "x"), OCTET_STREAM);
        // What a browser could run: plain bytes, declared or guessed.
        for risky in [
            "text/html; charset=utf-8",
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/javascript",
            "application/x-javascript",
            "text/xsl",
        ] {
            assert_eq!(safe_mime(Some(risky), "a.bin"), OCTET_STREAM, "{risky}");
        }
        assert_eq!(safe_mime(Some("text/html; x"), "a.bin"), OCTET_STREAM);
        assert_eq!(safe_mime(None, "page.html"), OCTET_STREAM);
        assert_eq!(safe_mime(Some(OCTET_STREAM), "image.svg"), OCTET_STREAM);
        assert_eq!(safe_mime(None, "script.js"), OCTET_STREAM);
    }

    #[test]
    fn the_download_header_is_valid_and_keeps_accents() {
        assert_eq!(
            content_disposition("facture.pdf"),
            "attachment; filename=\"facture.pdf\""
        );
        assert_eq!(
            content_disposition("relevé.pdf"),
            "attachment; filename=\"releve.pdf\"; filename*=UTF-8''relev%C3%A9.pdf"
        );
        assert_eq!(
            content_disposition("Facture n°1.pdf"),
            "attachment; filename=\"Facture n_1.pdf\"; filename*=UTF-8''Facture%20n%C2%B01.pdf"
        );
        // Even a name that was not made safe gives a valid header.
        for raw in ["a\"b\\c\r\nd.pdf", "日本.pdf", "œuvre.pdf", ""] {
            let header = content_disposition(raw);
            assert!(
                header.bytes().all(|byte| (b' '..=b'~').contains(&byte)),
                "{header:?}"
            );
            assert_eq!(header.matches('"').count(), 2, "{header:?}");
        }
    }
}
