//! Advisory locks: every key draftd takes, in one place so that no two
//! collide, and a job's session-level lock (one replica at a time runs the
//! job). That one is held on a connection of its own, so the holder must
//! [`JobLock::release`] it whatever the run's outcome; a holder that dies
//! drops the session, and the lock with it.

use deadpool_postgres::Object;

use super::Postgres;
use crate::domain::StoreError;

// One key each: any constant will do, as long as every replica uses the same.
/// Migrations, one replica at a time.
pub const MIGRATION_LOCK: i64 = 0x6472_6166_7464_0001;
/// The janitor's run, one replica at a time.
pub const JANITOR_LOCK: i64 = 0x6472_6166_7464_0002;
/// The purge's run, one replica at a time.
pub const PURGE_LOCK: i64 = 0x6472_6166_7464_0003;

// Classes of two-part keys: the class, then the hash of an id's text.
/// A course's fence: shared by recordings, exclusive for deletions ("fenc").
pub const FENCE_LOCK_CLASS: i32 = 0x6665_6e63;
/// An organization's, under which an upload checks and records its bytes ("orgb").
pub const ORGANIZATION_LOCK_CLASS: i32 = 0x6f72_6762;
/// A user's, under which their upload reservations are checked and taken ("resv").
pub const RESERVATION_LOCK_CLASS: i32 = 0x7265_7376;
/// An owner's, making the degraded drafts' cap check and insert one step ("drft").
pub const OWNER_LOCK_CLASS: i32 = 0x6472_6674;
/// An erase's, so that one replica at a time runs it ("eras").
pub const ERASE_LOCK_CLASS: i32 = 0x6572_6173;

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
