//! The composer's form, read from its multipart body: text fields, checkboxes, uploaded files, and the files
//! kept from an earlier preview (carried in the page itself, so a preview loses nothing and needs no server-side
//! draft).

use actix_multipart::Multipart;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;
use portal_app::files::{safe_file_name, safe_mime};

/// What uploaded files may weigh in all (the PDF and UBL fetched from Billit are not counted).
pub(crate) const MAX_UPLOADS_BYTES: usize = 10 * 1024 * 1024;
/// Files one answer may carry.
pub(crate) const MAX_UPLOADS: usize = 10;
/// A body larger than this is not read to its end: no honest form gets there (10 MiB of files, the same again
/// kept from a preview as base64, and the text).
const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;
/// What the files kept from a preview may weigh in all, as the page carries them (base64, a third larger, with
/// their names and types): beyond, they are counted, not buffered, like uploads.
const MAX_KEPT_BYTES: usize = MAX_UPLOADS_BYTES / 3 * 4 + MAX_UPLOADS * 1024;
/// A text field longer than this is cut (the body's own limit is checked with a message).
const MAX_TEXT_FIELD: usize = 256 * 1024;
/// The name of an uploaded file whose own name has nothing usable left (before its type's extension).
const FALLBACK_NAME: &str = "piece-jointe";

/// A file sent with the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    pub name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

impl Upload {
    /// The file as one form value (to keep it in the page across a preview).
    pub(crate) fn encode(&self) -> String {
        format!(
            "{}.{}.{}",
            STANDARD.encode(self.name.as_bytes()),
            STANDARD.encode(self.content_type.as_bytes()),
            STANDARD.encode(&self.content)
        )
    }

    fn decode(value: &str) -> Option<Self> {
        let mut parts = value.trim().splitn(3, '.');
        let name = String::from_utf8(STANDARD.decode(parts.next()?).ok()?).ok()?;
        let content_type = String::from_utf8(STANDARD.decode(parts.next()?).ok()?).ok()?;
        let content = STANDARD.decode(parts.next()?).ok()?;
        let content_type = safe_mime(Some(&content_type), &name);
        Some(Self {
            name: safe_file_name(Some(&name), &content_type, FALLBACK_NAME),
            content_type,
            content,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Preview,
    Send,
}

/// The form as the user filled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ComposeForm {
    pub to: String,
    pub cc_me: bool,
    pub subject: String,
    pub body: String,
    pub attach_pdf: bool,
    pub attach_ubl: bool,
    pub uploads: Vec<Upload>,
    pub action: Action,
    /// What the files weighed when they were over the limit (they are then dropped, the text kept).
    pub uploads_over_limit: Option<usize>,
    /// Files beyond `MAX_UPLOADS` (dropped).
    pub too_many_files: bool,
}

/// Why a body could not be read at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("the form is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the form could not be read: {0}")]
    Malformed(String),
}

/// Reads the whole form. Files over the limit are counted but not kept, so the text typed after them in the
/// body still arrives and the page can be shown again with it. The caller keeps `multipart` until its answer is
/// ready: once dropped, the server discards the rest of an oversized body as fast as it comes, so the refusal
/// would reach the client only after that much more was sent for nothing.
pub(crate) async fn read(multipart: &mut Multipart) -> Result<ComposeForm, ReadError> {
    let mut form = ComposeForm {
        to: String::new(),
        cc_me: false,
        subject: String::new(),
        body: String::new(),
        attach_pdf: false,
        attach_ubl: false,
        uploads: Vec::new(),
        action: Action::Preview,
        uploads_over_limit: None,
        too_many_files: false,
    };
    let mut read_total = 0usize;
    let mut upload_total = 0usize;
    let mut kept_total = 0usize;
    let mut kept_values = Vec::new();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|error| ReadError::Malformed(error.to_string()))?;
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename())
            .map(str::to_owned);
        let declared_type = field
            .content_type()
            .map(|mime| mime.essence_str().to_owned());
        let is_file = name == "files";
        let is_kept = name == "kept_file";
        // Files are kept only while they fit in what attachments may weigh (beyond, they are counted, not
        // buffered), those kept from a preview as well (in all, not each: a forged form could repeat them).
        let keep_limit = if is_file {
            MAX_UPLOADS_BYTES.saturating_sub(upload_total)
        } else if is_kept {
            MAX_KEPT_BYTES.saturating_sub(kept_total)
        } else {
            MAX_TEXT_FIELD
        };
        let mut bytes = Vec::new();
        let mut size = 0usize;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|error| ReadError::Malformed(error.to_string()))?;
            read_total = read_total.saturating_add(chunk.len());
            if read_total > MAX_BODY_BYTES {
                return Err(ReadError::TooLarge);
            }
            size = size.saturating_add(chunk.len());
            if size <= keep_limit {
                bytes.extend_from_slice(&chunk);
            } else if is_file || is_kept {
                // Over the attachments' limit: nothing of it is kept.
                bytes = Vec::new();
            } else if bytes.len() < keep_limit {
                let room = keep_limit - bytes.len();
                bytes.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
        }
        if is_file {
            let Some(file_name) = file_name.filter(|name| !name.trim().is_empty()) else {
                // An empty file input sends a part with no file name.
                continue;
            };
            upload_total = upload_total.saturating_add(size);
            let content_type = safe_mime(declared_type.as_deref(), &file_name);
            form.uploads.push(Upload {
                name: safe_file_name(Some(&file_name), &content_type, FALLBACK_NAME),
                content_type,
                content: bytes,
            });
            continue;
        }
        if is_kept {
            kept_total = kept_total.saturating_add(size);
            if size > keep_limit {
                // Dropped: what it would have weighed decoded counts against the attachments' limit.
                upload_total = upload_total.saturating_add(size / 4 * 3);
                continue;
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "to" => form.to = text,
            "cc_me" => form.cc_me = true,
            "subject" => form.subject = text,
            "body" => form.body = text.replace("\r\n", "\n"),
            "attach_pdf" => form.attach_pdf = true,
            "attach_ubl" => form.attach_ubl = true,
            "action" => {
                form.action = if text.trim() == "send" {
                    Action::Send
                } else {
                    Action::Preview
                };
            }
            "kept_file" => kept_values.push(text),
            _ => {}
        }
    }
    // Files kept from a preview come first, in the order they were attached.
    let mut kept: Vec<Upload> = kept_values
        .iter()
        .filter_map(|value| Upload::decode(value))
        .collect();
    upload_total = upload_total.saturating_add(kept.iter().map(|kept| kept.content.len()).sum());
    kept.append(&mut form.uploads);
    form.uploads = kept;
    if upload_total > MAX_UPLOADS_BYTES {
        form.uploads.clear();
        form.uploads_over_limit = Some(upload_total);
    }
    if form.uploads.len() > MAX_UPLOADS {
        form.uploads.truncate(MAX_UPLOADS);
        form.too_many_files = true;
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::error::PayloadError;
    use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
    use actix_web::web::Bytes;
    use std::cell::Cell;
    use std::rc::Rc;

    const BOUNDARY: &str = "----unit-boundary";
    const MIB: usize = 1024 * 1024;

    fn part(name: &str, file_name: Option<&str>) -> Vec<u8> {
        let file = file_name.map_or(String::new(), |file| {
            format!("; filename=\"{file}\"\r\nContent-Type: application/octet-stream")
        });
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n")
            .into_bytes()
    }

    /// A multipart body as a stream of 1 MiB chunks, `file_bytes` of one file's content after `head` and
    /// before `tail`, counting in `sent` how many bytes the reader pulled.
    fn body(head: Vec<u8>, file_bytes: usize, tail: Vec<u8>, sent: Rc<Cell<usize>>) -> Multipart {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={BOUNDARY}")).unwrap(),
        );
        let chunks = std::iter::once(Bytes::from(head))
            .chain(
                (0..file_bytes.div_ceil(MIB))
                    .map(move |n| Bytes::from(vec![b'x'; MIB.min(file_bytes - n * MIB)])),
            )
            .chain(std::iter::once(Bytes::from(tail)));
        let stream = futures_util::stream::iter(chunks.map(move |chunk| {
            sent.set(sent.get() + chunk.len());
            Ok::<Bytes, PayloadError>(chunk)
        }));
        Multipart::new(&headers, stream)
    }

    fn text(name: &str, value: &str) -> Vec<u8> {
        let mut out = part(name, None);
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }

    fn end() -> Vec<u8> {
        format!("--{BOUNDARY}--\r\n").into_bytes()
    }

    /// A body far above the limit (200 MiB) is refused once the limit is passed, not read to its end.
    #[actix_web::test]
    async fn a_body_far_above_the_limit_is_refused_at_the_limit() {
        let sent = Rc::new(Cell::new(0));
        let mut head = text("subject", "x");
        head.extend(part("files", Some("huge.bin")));
        let mut tail = b"\r\n".to_vec();
        tail.extend(end());
        let result = read(&mut body(head, 200 * MIB, tail, sent.clone())).await;
        assert!(matches!(result, Err(ReadError::TooLarge)), "{result:?}");
        assert!(
            sent.get() <= MAX_BODY_BYTES + 2 * MIB,
            "read {} bytes of a 200 MiB body",
            sent.get()
        );
    }

    /// A file over the attachments' limit (but within the body's) is counted, not kept, and the text typed
    /// after it still arrives.
    #[actix_web::test]
    async fn a_file_over_the_limit_is_counted_and_the_text_after_it_kept() {
        let sent = Rc::new(Cell::new(0));
        let head = part("files", Some("big.bin"));
        let mut tail = b"\r\n".to_vec();
        tail.extend(text("body", "typed after the file"));
        tail.extend(end());
        let form = read(&mut body(head, 25 * MIB, tail, sent)).await.unwrap();
        assert!(form.uploads.is_empty());
        assert_eq!(form.uploads_over_limit, Some(25 * MIB));
        assert_eq!(form.body, "typed after the file");
    }

    /// Files kept from a preview count in all: a forged form repeating them past the limit gets the same
    /// refusal as uploads (and none of them is held beyond the limit).
    #[actix_web::test]
    async fn files_kept_from_a_preview_are_limited_in_all() {
        let kept = Upload {
            name: "a.pdf".into(),
            content_type: "application/pdf".into(),
            content: vec![7; 4 * MIB],
        }
        .encode();
        let form_with = |copies: usize| {
            let mut head = Vec::new();
            for _ in 0..copies {
                head.extend(text("kept_file", &kept));
            }
            head.extend(text("subject", "s"));
            head.extend(end());
            body(head, 0, Vec::new(), Rc::new(Cell::new(0)))
        };
        let two = read(&mut form_with(2)).await.unwrap();
        assert_eq!(two.uploads.len(), 2);
        assert_eq!(two.uploads_over_limit, None);
        let five = read(&mut form_with(5)).await.unwrap();
        assert!(five.uploads.is_empty());
        assert!(
            five.uploads_over_limit
                .is_some_and(|total| total > MAX_UPLOADS_BYTES),
            "{:?}",
            five.uploads_over_limit
        );
        assert_eq!(five.subject, "s");
    }

    #[test]
    fn a_kept_file_comes_back_as_it_was() {
        let upload = Upload {
            name: "relevé.csv".into(),
            content_type: "text/csv".into(),
            content: b"a;b\n1;2\n".to_vec(),
        };
        assert_eq!(Upload::decode(&upload.encode()), Some(upload));
        assert_eq!(Upload::decode("garbage"), None);
    }
}
