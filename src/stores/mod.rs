//! The stores: Redis holds draft sessions, Postgres holds courses, file
//! storage holds uploaded files.
//! Every store call is bounded by the configured timeout, so an unreachable
//! store turns into a fast [`StoreError`] instead of a hanging request.

pub mod cleanup;
pub mod courses;
pub mod files;
pub mod postgres;
pub mod redis;
pub mod redis_sessions;
pub mod tls;

use std::future::Future;
use std::time::Duration;

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
