//! The words of pages: the catalogues live in `portal_app::i18n` (emails use them too).

pub use portal_app::i18n::Tr;
