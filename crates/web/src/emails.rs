//! The portal's emails laid out in templates, in the recipient's language, text and HTML: invitations and
//! password resets (sent from pages), and the bodies the application asks for ([`Templates`]).

use crate::i18n::Tr;
use crate::state::AppState;
use askama::Template;
use portal_app::emails::{Bodies, EmailBodies, NeedsAction};
use portal_domain::Language;
use portal_persistence::outbox::NewEmail;

#[derive(Template)]
#[template(path = "emails/invitation.txt")]
struct InvitationText<'a> {
    t: Tr,
    intro: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/invitation.html")]
struct InvitationHtml<'a> {
    t: Tr,
    intro: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/reset.txt")]
struct ResetText<'a> {
    t: Tr,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/reset.html")]
struct ResetHtml<'a> {
    t: Tr,
    link: &'a str,
}

/// An invitation to `place` (a company name, or the firm) with the link that accepts it.
pub fn invitation(
    state: &AppState,
    lang: Language,
    to: &str,
    place: &str,
    token: &str,
) -> Result<NewEmail, askama::Error> {
    let t = Tr::new(lang);
    let link = format!("{}/invitations/{token}", state.base_url);
    let intro = t.fill("email.invitation.intro", &[("place", place)]);
    Ok(NewEmail {
        to: vec![to.to_owned()],
        subject: t.fill("email.invitation.subject", &[("place", place)]),
        text_body: InvitationText {
            t,
            intro: &intro,
            link: &link,
        }
        .render()?,
        html_body: InvitationHtml {
            t,
            intro: &intro,
            link: &link,
        }
        .render()?,
        from: state.settings.mail_from.clone(),
        reply_to: None,
    })
}

pub fn password_reset(
    state: &AppState,
    lang: Language,
    to: &str,
    token: &str,
) -> Result<NewEmail, askama::Error> {
    let t = Tr::new(lang);
    let link = format!("{}/password/reset/{token}", state.base_url);
    Ok(NewEmail {
        to: vec![to.to_owned()],
        subject: t.get("email.reset.subject").to_owned(),
        text_body: ResetText { t, link: &link }.render()?,
        html_body: ResetHtml { t, link: &link }.render()?,
        from: state.settings.mail_from.clone(),
        reply_to: None,
    })
}

#[derive(Template)]
#[template(path = "emails/needs_action.txt")]
struct NeedsActionText<'a> {
    t: Tr,
    content: &'a NeedsAction,
}

#[derive(Template)]
#[template(path = "emails/needs_action.html")]
struct NeedsActionHtml<'a> {
    t: Tr,
    content: &'a NeedsAction,
}

/// The application's emails, rendered with this crate's templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Templates;

impl EmailBodies for Templates {
    fn needs_action(&self, lang: Language, content: &NeedsAction) -> anyhow::Result<Bodies> {
        let t = Tr::new(lang);
        Ok(Bodies {
            text: NeedsActionText { t, content }.render()?,
            html: NeedsActionHtml { t, content }.render()?,
        })
    }
}
