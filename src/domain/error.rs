//! What a store call can fail with. The stores turn their drivers' errors into
//! a [`StoreError`] that keeps the driver's error whole and says its causes
//! in its message, once (it is not also a `source()`, which would have a
//! reporter say them again); callers ask it questions instead of matching
//! text.

use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A store's own error, kept whole as the cause.
pub type Cause = Box<dyn Error + Send + Sync>;

/// Which store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redis,
    Postgres,
    Files,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redis => "redis",
            Self::Postgres => "postgres",
            Self::Files => "file storage",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error and its causes, as one line: a driver's own message is often
/// only its kind ("db error"), the detail being in its source. A cause that
/// the message already ends with (tokio-postgres prints its source itself)
/// is not said twice.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let said = next.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = next.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store failed to answer, or answered with an error.
    #[error("{backend}: {}", chain(cause.as_ref()))]
    Failed { backend: Backend, cause: Cause },
    /// The store refused what it was given (a Postgres data exception): a
    /// request the boundary should have refused, not an outage, so
    /// retrying cannot help.
    #[error("{backend} refused the data: {}", chain(cause.as_ref()))]
    Rejected { backend: Backend, cause: Cause },
    #[error("{backend} did not answer within {timeout:?}")]
    Timeout { backend: Backend, timeout: Duration },
    /// Not asked: a recent call to it timed out (see the Redis breaker).
    #[error("{backend} not asked: a call timed out less than {window:?} ago")]
    Skipped { backend: Backend, window: Duration },
    /// The store answered something this version of draftd cannot read.
    #[error("corrupt {backend} record: {detail}")]
    Corrupt { backend: Backend, detail: String },
}

impl StoreError {
    pub fn failed(backend: Backend, cause: impl Into<Cause>) -> Self {
        Self::Failed {
            backend,
            cause: cause.into(),
        }
    }

    pub fn rejected(backend: Backend, cause: impl Into<Cause>) -> Self {
        Self::Rejected {
            backend,
            cause: cause.into(),
        }
    }

    pub fn corrupt(backend: Backend, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            backend,
            detail: detail.into(),
        }
    }

    /// The driver's error this one was made from, to ask it what it was
    /// (a Redis error code, say); not a `source()`, see the module.
    pub fn cause(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match self {
            Self::Failed { cause, .. } | Self::Rejected { cause, .. } => Some(cause.as_ref()),
            Self::Timeout { .. } | Self::Skipped { .. } | Self::Corrupt { .. } => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Failed { backend, .. }
            | Self::Rejected { backend, .. }
            | Self::Timeout { backend, .. }
            | Self::Skipped { backend, .. }
            | Self::Corrupt { backend, .. } => *backend,
        }
    }

    /// The store could not be reached or did not answer in time: retrying
    /// later may succeed. Refused data and a corrupt record will not mend
    /// themselves.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::Timeout { .. } | Self::Skipped { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_causes_are_said_once_in_the_message() {
        #[derive(Debug, thiserror::Error)]
        #[error("db error: {0}")]
        struct SaysItsSource(#[source] std::io::Error);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = StoreError::failed(Backend::Postgres, SaysItsSource(io));
        assert_eq!(error.to_string(), "postgres: db error: refused");
        assert!(error.source().is_none(), "the causes are in the message");
        assert!(error.is_unavailable());
        assert!(!StoreError::corrupt(Backend::Redis, "x").is_unavailable());
    }
}
