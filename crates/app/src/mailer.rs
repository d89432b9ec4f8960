//! Sending the outbox: SMTP when configured, otherwise one `.eml` file per email under `<data_dir>/outbox/`.

use crate::worker::{JobFailure, JobResult};
use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portal_persistence::jobs::ClaimedJob;
use portal_persistence::outbox::{EmailStatus, NewAttachment, OutboxRepository, StoredEmail};
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
    ) -> anyhow::Result<()> {
        let message = build_message(stored, attachments)?;
        match self {
            Self::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .context("the SMTP server refused the email")?;
            }
            Self::Files(dir) => {
                let path = dir.join(format!("{}.eml", stored.id));
                let temporary = dir.join(format!(".{}.eml.tmp", stored.id));
                tokio::fs::create_dir_all(dir)
                    .await
                    .context("creating the outbox folder")?;
                tokio::fs::write(&temporary, message.formatted())
                    .await
                    .context("writing the email file")?;
                tokio::fs::rename(&temporary, &path)
                    .await
                    .context("publishing the email file")?;
            }
        }
        Ok(())
    }
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
    let Some(stored) = outbox.get_for_job(scope.as_ref(), payload.email_id).await? else {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "email {} not found",
            payload.email_id
        )));
    };
    // A retry asked by hand may meet an email that a late job already sent.
    if stored.status == EmailStatus::Sent {
        return Ok(());
    }
    let attachments = outbox
        .attachments_for_job(scope.as_ref(), stored.id)
        .await?;
    match mailer.deliver(&stored, &attachments).await {
        Ok(()) => {
            outbox.mark_sent(stored.id, chrono::Utc::now()).await?;
            Ok(())
        }
        Err(error) => {
            let message = format!("{error:#}");
            outbox
                .mark_attempt_failed(stored.id, &message, job.is_last_attempt())
                .await?;
            Err(JobFailure::Retry(error))
        }
    }
}
