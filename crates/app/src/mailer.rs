//! Sending the outbox: SMTP when configured, otherwise one `.eml` file per email under `<data_dir>/outbox/`.
//!
//! A failed try is kept on the email (`last_error`) as a code with the technical detail as its parameter (see
//! [`crate::failures`]), put into words by [`failure_sentence`] in the reader's language:
//! - `mail.invalid:<detail>`: the email could not be built (an address or an attachment's type is invalid);
//! - `mail.refused:<detail>`: the SMTP server refused it or could not be reached;
//! - `mail.not_written:<detail>`: the file mailer could not write it.

use crate::failures::{self, Failure};
use crate::i18n::Tr;
use crate::worker::{JobFailure, JobResult};
use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portal_persistence::jobs::ClaimedJob;
use portal_persistence::outbox::{NewAttachment, OutboxRepository, SendingStart, StoredEmail};
use std::path::PathBuf;

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(_) => f.write_str("Mailer::Smtp"),
            Self::Files(dir) => write!(f, "Mailer::Files({})", dir.display()),
        }
    }
}

impl Mailer {
    /// From `mail.smtp_url` (`smtp://user:pass@host:port`, STARTTLS when offered; `smtps://` for TLS), or files.
    pub fn from_config(smtp_url: Option<&str>, outbox_dir: PathBuf) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => Ok(Self::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("mail.smtp_url is not a usable SMTP address")?
                    .build(),
            )),
            None => Ok(Self::Files(outbox_dir)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(_) => "SMTP".to_owned(),
            Self::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    pub async fn deliver(
        &self,
        stored: &StoredEmail,
        attachments: &[NewAttachment],
    ) -> Result<(), DeliveryError> {
        let message = build_message(stored, attachments).map_err(DeliveryError::Invalid)?;
        match self {
            Self::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map_err(|error| DeliveryError::Refused(error.into()))?;
            }
            Self::Files(dir) => {
                let written = async {
                    let path = dir.join(format!("{}.eml", stored.id));
                    let temporary = dir.join(format!(".{}.eml.tmp", stored.id));
                    tokio::fs::create_dir_all(dir)
                        .await
                        .context("creating the outbox folder")?;
                    write_private(&temporary, message.formatted())
                        .await
                        .context("writing the email file")?;
                    tokio::fs::rename(&temporary, &path)
                        .await
                        .context("publishing the email file")
                };
                written.await.map_err(DeliveryError::NotWritten)?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file readable by its owner only (0600 on unix): emails carry invitation and reset
/// links.
async fn write_private(path: &std::path::Path, bytes: Vec<u8>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).await?;
    file.write_all(&bytes).await?;
    file.flush().await
}

/// Why an email did not leave.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the email cannot be built: {0:#}")]
    Invalid(anyhow::Error),
    #[error("the SMTP server refused the email: {0:#}")]
    Refused(anyhow::Error),
    #[error("the email file cannot be written: {0:#}")]
    NotWritten(anyhow::Error),
}

impl DeliveryError {
    /// What the email keeps: the code and the technical detail.
    pub fn stored(&self) -> String {
        let (code, error) = match self {
            Self::Invalid(error) => (INVALID, error),
            Self::Refused(error) => (REFUSED, error),
            Self::NotWritten(error) => (NOT_WRITTEN, error),
        };
        let detail: String = format!("{error:#}")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(500)
            .collect();
        failures::encode(code, detail.trim())
    }
}

const INVALID: &str = "mail.invalid";
const REFUSED: &str = "mail.refused";
const NOT_WRITTEN: &str = "mail.not_written";

/// Why an email did not leave (its `last_error`), in the reader's words. A row written before the codes holds
/// the technical text itself, shown as it is.
pub fn failure_sentence(stored: &str, t: Tr) -> String {
    let Some(Failure { code, param }) = Failure::parse(stored.trim()) else {
        return stored.to_owned();
    };
    let key = match code {
        INVALID => "outbox.failure.invalid",
        REFUSED => "outbox.failure.refused",
        NOT_WRITTEN => "outbox.failure.not_written",
        _ => return stored.to_owned(),
    };
    let detail = if param.trim().is_empty() {
        t.get("failure.no_detail")
    } else {
        param
    };
    t.fill(key, &[("detail", detail)])
}

/// A multipart (text + HTML) message, inside a `multipart/mixed` with the files when there are any. `Date` is
/// now; the `Message-ID` is the one fixed when the email was queued (`<id@portal>` for older rows).
/// The address part of a mailbox (`Name <address>` or a bare address); the text itself when it does not parse.
pub fn address_of(mailbox: &str) -> String {
    let configured = mailbox.trim();
    match configured.parse::<Mailbox>() {
        Ok(mailbox) => mailbox.email.to_string(),
        Err(_) => configured.to_owned(),
    }
}

pub fn build_message(
    stored: &StoredEmail,
    attachments: &[NewAttachment],
) -> anyhow::Result<Message> {
    let email = &stored.email;
    let mut from: Mailbox = email
        .from
        .parse()
        .context("the sender address is invalid")?;
    if let Some(name) = stored
        .from_name
        .as_ref()
        .filter(|name| !name.trim().is_empty())
    {
        from = Mailbox::new(Some(name.trim().to_owned()), from.email);
    }
    let message_id = stored
        .message_id
        .clone()
        .unwrap_or_else(|| format!("<{}@portal>", stored.id));
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .date_now()
        .message_id(Some(message_id));
    for to in &email.to {
        builder = builder.to(to
            .parse()
            .with_context(|| format!("the address {to} is invalid"))?);
    }
    for cc in &stored.cc {
        builder = builder.cc(cc
            .parse()
            .with_context(|| format!("the address {cc} is invalid"))?);
    }
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(
            reply_to
                .parse()
                .context("the reply-to address is invalid")?,
        );
    }
    let alternative =
        MultiPart::alternative_plain_html(email.text_body.clone(), email.html_body.clone());
    if attachments.is_empty() {
        return builder.multipart(alternative).context("building the email");
    }
    let mut mixed = MultiPart::mixed().multipart(alternative);
    for attachment in attachments {
        // Types are checked when files are attached; an odd stored one still goes, as plain bytes.
        let content_type = ContentType::parse(&attachment.content_type)
            .or_else(|_| ContentType::parse("application/octet-stream"))
            .context("an attachment's type")?;
        mixed = mixed.singlepart(
            Attachment::new(attachment.file_name.clone())
                .body(attachment.content.clone(), content_type),
        );
    }
    builder.multipart(mixed).context("building the email")
}

/// The `mail.send` job: deliver one outbox row, recording the outcome on it.
pub async fn send_job(outbox: OutboxRepository, mailer: Mailer, job: ClaimedJob) -> JobResult {
    #[derive(serde::Deserialize)]
    struct Payload {
        email_id: uuid::Uuid,
    }
    let payload: Payload = job.payload().map_err(|error| {
        JobFailure::Permanent(anyhow::anyhow!("bad mail.send payload: {error}"))
    })?;
    let scope = job.tenant_scope();
    // Marked `sending` before the SMTP server is asked: a worker that dies after the server accepted the email
    // but before `sent` leaves it `sending`, and the next try stops there (at most once; a person decides).
    let start = outbox
        .begin_sending(
            scope.as_ref(),
            payload.email_id,
            job.id.as_uuid(),
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
    let stored = match start {
        SendingStart::Send(stored) => *stored,
        // A retry asked by hand may meet an email that a late job already sent.
        SendingStart::AlreadySent => return Ok(()),
        SendingStart::InFlight => {
            tracing::debug!(email = %payload.email_id, "another try is sending this email; left to it");
            return Ok(());
        }
        SendingStart::Uncertain => {
            tracing::warn!(
                email = %payload.email_id,
                job = %job.id,
                "an earlier try of this email never said how it ended; marked uncertain, not sent again"
            );
            return Ok(());
        }
        SendingStart::NotFound => {
            return Err(JobFailure::Permanent(anyhow::anyhow!(
                "email {} not found",
                payload.email_id
            )));
        }
        SendingStart::Changed => {
            return Err(JobFailure::Retry(anyhow::anyhow!(
                "email {} changed while its try began",
                payload.email_id
            )));
        }
    };
    let attachments = outbox
        .attachments_for_job(scope.as_ref(), stored.id)
        .await?;
    match mailer.deliver(&stored, &attachments).await {
        Ok(()) => {
            outbox.mark_sent(stored.id, chrono::Utc::now()).await?;
            Ok(())
        }
        Err(error) => {
            outbox
                .mark_attempt_failed(stored.id, &error.stored(), job.is_last_attempt())
                .await?;
            Err(JobFailure::Retry(error.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    #[test]
    fn a_failed_try_is_kept_as_a_code_and_read_in_each_language() {
        let error = DeliveryError::Refused(anyhow::anyhow!("550 5.1.1 mailbox\r\nunavailable"));
        let stored = error.stored();
        assert_eq!(stored, "mail.refused:550 5.1.1 mailbox  unavailable");
        assert_eq!(
            failure_sentence(&stored, Tr::new(Language::Fr)),
            "Le serveur d’envoi a refusé le courriel ou n’a pas pu être joint (550 5.1.1 mailbox  unavailable)."
        );
        assert_eq!(
            failure_sentence(&stored, Tr::new(Language::En)),
            "The mail server refused the email or could not be reached (550 5.1.1 mailbox  unavailable)."
        );
        assert!(failure_sentence("mail.invalid", Tr::new(Language::En)).contains("(no detail)"));
        assert!(
            failure_sentence(
                &DeliveryError::NotWritten(anyhow::anyhow!("disk full")).stored(),
                Tr::new(Language::Fr)
            )
            .contains("(disk full)")
        );
    }

    #[test]
    fn a_text_written_before_the_codes_is_shown_as_it_is() {
        let old = "the SMTP server refused the email: permanent error (550)";
        assert_eq!(failure_sentence(old, Tr::new(Language::Fr)), old);
    }
}
