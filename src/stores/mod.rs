//! The stores: Redis holds draft sessions, Postgres holds courses, their file
//! rows and the cleanup queue (and degraded-mode drafts), file storage holds
//! uploaded files. They implement the domain's traits and answer with the
//! domain's types and [`StoreError`]; they know nothing of the use cases, the
//! jobs or HTTP.
//!
//! Every store call is bounded by the configured timeout, so an unreachable
//! store turns into a fast [`StoreError`] instead of a hanging request.

pub mod files;
pub mod postgres;
pub mod recorded_upload;
pub mod redis;
pub mod tls;

use std::future::Future;
use std::time::Duration;

pub use crate::domain::{Backend, StoreError};

/// Runs a store call under a deadline.
pub(crate) async fn bounded<T, E, F>(
    backend: Backend,
    timeout: Duration,
    call: F,
) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, E>>,
    E: Into<StoreError>,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(StoreError::Timeout { backend, timeout }),
    }
}

/// The drivers' errors, each kept whole as the cause.
macro_rules! failed_from {
    ($backend:ident: $($error:ty),+) => {
        $(impl From<$error> for StoreError {
            fn from(e: $error) -> Self {
                StoreError::failed(Backend::$backend, e)
            }
        })+
    };
}

failed_from!(Redis: deadpool_redis::redis::RedisError, deadpool_redis::redis::ParsingError, deadpool_redis::PoolError);
failed_from!(Postgres: deadpool_postgres::PoolError);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // SQLSTATE class 22, data exception: Postgres refused the data.
        // Any other (an integrity race among them) is a failure to retry.
        let refused = e.code().is_some_and(|code| code.code().starts_with("22"));
        if refused {
            StoreError::rejected(Backend::Postgres, e)
        } else {
            StoreError::failed(Backend::Postgres, e)
        }
    }
}
failed_from!(Files: object_store::Error);
