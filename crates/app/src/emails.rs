//! The emails whose body has a designed layout: the use cases say what an email says, in words of one language;
//! how it is laid out (text and HTML) is the web crate's templates, reached through [`EmailBodies`].

use portal_domain::Language;

/// An email's two bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bodies {
    pub text: String,
    pub html: String,
}

/// "An invoice needs you": what the email says, in its recipient's language.
#[derive(Debug, Clone, Default)]
pub struct NeedsAction {
    pub intro: String,
    pub status: String,
    pub reasons: Vec<String>,
    pub requested_action: Option<String>,
    pub comment: Option<String>,
    pub to_do: Vec<String>,
    pub link: String,
}

/// Renders emails' bodies (implemented with the templates of the web crate).
pub trait EmailBodies: Send + Sync + 'static {
    fn needs_action(&self, lang: Language, content: &NeedsAction) -> anyhow::Result<Bodies>;
}
