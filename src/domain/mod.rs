//! The domain: draft sessions, the create-course form, and the courses
//! drafts become. Types here validate
//! on parse; nothing in this module knows about HTTP.

pub mod admin;
pub mod course;
pub mod courses;
pub mod draft;
pub mod form;
pub mod upload;

pub use course::{Course, CourseFile, CourseRef, CourseWithFiles};
pub use courses::Courses;
pub use draft::{DomainError, Draft, DraftSessions, DraftStatus, Owner, Precondition};
pub use form::{FieldErrors, FormData, FormPatch};
