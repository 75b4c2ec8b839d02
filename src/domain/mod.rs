//! The domain: pure types and rules. Draft sessions and the form, courses and
//! their files, uploads' rules and the check of their content, the cleanup
//! queue's records, an erase's figures, the lifecycle events told downstream,
//! the live events told a draft's open streams, who an access token names,
//! the outcomes the stores answer with and the trait the draft stores implement.
//!
//! It may use only itself and plain libraries (serde, chrono, uuid,
//! validator, infer): no I/O, no metrics, nothing of HTTP, and no other
//! module of draftd, all of which depend on it instead.

pub mod cleanup;
pub mod content;
pub mod course;
pub mod draft;
pub mod erase;
pub mod error;
pub mod event;
pub mod fence;
pub mod form;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod job;
pub mod key_pattern;
pub mod live;
pub mod page;
pub mod tus;
pub mod upload;

pub use course::{
    Course, CourseFile, CourseList, CourseRef, CourseStatus, CourseSummary, CourseWithFiles,
    MaterializedBy,
};
pub use draft::{
    Draft, DraftBackend, DraftLimits, DraftStatus, DraftStore, Owner, Precondition, SessionRef,
    UserDraft,
};
pub use error::{Backend, StoreError};
pub use form::{FieldErrors, FormPatch};
pub use idempotency::{Idempotency, IdempotencyKey};
pub use ids::{CourseId, DraftId, FileId, OrgId, UploadId, UserId};

/// A stored value that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl UnknownValue {
    pub fn new(what: &'static str, value: &str) -> Self {
        Self {
            what,
            value: value.to_owned(),
        }
    }
}

/// Implements `as_str` and `FromStr` for a fieldless enum from one table of
/// (variant, text) pairs, the text being the value stored in SQL or Redis.
macro_rules! string_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value as an SQL string literal (`'draft'`), for a statement
            /// that names it in its text: a partial index whose predicate
            /// names a value serves only statements that name it too, and a
            /// bound `$1` can leave a generic plan without it. The texts are
            /// plain words, quoted as they are (a test checks).
            pub const fn sql(self) -> &'static str {
                match self {
                    $($name::$variant => concat!("'", $text, "'")),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::UnknownValue::new($what, s)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;
