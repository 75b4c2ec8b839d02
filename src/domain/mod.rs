//! The domain: draft sessions and the create-course form. Types here validate
//! on parse; nothing in this module knows about HTTP.

pub mod draft;
pub mod form;

pub use draft::{Draft, DraftError, DraftSessions, DraftStatus, Owner, Precondition};
pub use form::{FieldErrors, FormData, FormPatch};
