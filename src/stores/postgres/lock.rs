//! A job's session-level advisory lock: one replica at a time runs the job.
//! Held on a connection of its own, so the holder must [`JobLock::release`]
//! it whatever the run's outcome; a holder that dies drops the session, and
//! the lock with it.

use deadpool_postgres::Object;

use super::Postgres;
use crate::domain::StoreError;

pub struct JobLock {
    client: Object,
    key: i64,
}

impl Postgres {
    /// The lock `key`, unless another session holds it.
    pub async fn try_lock(&self, key: i64) -> Result<Option<JobLock>, StoreError> {
        let client = self.session().await?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .try_get(0)?;
        Ok(locked.then_some(JobLock { client, key }))
    }
}

impl JobLock {
    /// The session that holds the lock.
    pub(super) fn client(&mut self) -> &mut Object {
        &mut self.client
    }

    pub async fn release(self) {
        let client = self.client;
        if client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.key])
            .await
            .is_err()
        {
            // Closing the session releases the lock for certain.
            drop(Object::take(client));
        }
    }
}
