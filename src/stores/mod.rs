//! The stores: Redis holds draft sessions, Postgres holds courses, file
//! storage holds uploaded files.
//! Every store call is bounded by the configured timeout, so an unreachable
//! store turns into a fast [`StoreError`] instead of a hanging request.

pub mod cleanup;
pub mod courses;
pub mod files;
pub mod pg_drafts;
pub mod postgres;
pub mod redis;
pub mod redis_sessions;
pub mod tls;

use std::future::Future;
use std::time::Duration;

use crate::domain::Draft;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(String),
    #[error("postgres: {0}")]
    Postgres(String),
    #[error("file storage: {0}")]
    Files(String),
    #[error("{store} did not answer within {timeout:?}")]
    Timeout {
        store: &'static str,
        timeout: Duration,
    },
    /// The store answered something this version of draftd cannot read.
    #[error("corrupt {store} record: {detail}")]
    Corrupt { store: &'static str, detail: String },
}

/// What a draft store answers to a new draft.
pub enum CreateOutcome {
    Created(Draft),
    /// The owner already has the maximum of live drafts.
    TooManyDrafts,
}

/// What a draft store answers to an autosave.
pub enum PatchOutcome {
    Saved(Draft),
    /// Expired, discarded or never there.
    Missing,
    /// `If-Match` named another version.
    Stale {
        current: u64,
    },
    /// The draft was submitted: it is read-only.
    Submitted,
    /// The owner autosaved too often; the window ends in this long.
    RateLimited {
        retry_after: Duration,
    },
}

impl StoreError {
    /// Redis failed to answer (down, unreachable, too slow): what sends a new
    /// draft to Postgres.
    pub fn is_redis_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Redis(_) | StoreError::Timeout { store: "redis", .. }
        )
    }
}

/// Runs a store call under a deadline.
pub(crate) async fn bounded<T, E, F>(
    store: &'static str,
    timeout: Duration,
    call: F,
) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, E>>,
    E: Into<StoreError>,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(StoreError::Timeout { store, timeout }),
    }
}

impl From<deadpool_redis::redis::RedisError> for StoreError {
    fn from(e: deadpool_redis::redis::RedisError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

impl From<deadpool_redis::PoolError> for StoreError {
    fn from(e: deadpool_redis::PoolError) -> Self {
        StoreError::Redis(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The plain Display of a database error says only "db error".
        StoreError::Postgres(match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        })
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Postgres(e.to_string())
    }
}
