//! The customer form lives in the shared layer (`components::customer_form`): the JSON API checks customers with
//! the same rules and words.

pub use crate::components::customer_form::{CustomerForm, FieldErrors};
