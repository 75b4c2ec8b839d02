//! The platform's own Redis keys of a course, organization or user (BullMQ
//! jobs, idempotency keys, caches), found by the operator's patterns and
//! erased with what they belong to.

use deadpool_redis::redis;

use super::RedisDrafts;
use crate::domain::key_pattern::{Ids, KeyPattern};
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;

/// Keys unlinked per round trip.
const UNLINK_BATCH: usize = 500;

impl RedisDrafts {
    /// Unlinks every key matching `pattern` whose ids `owned` accepts: one
    /// SCAN of the keyspace (of every primary, on a cluster), however many
    /// owners `owned` stands for. The number of keys unlinked.
    pub async fn unlink_matching(
        &self,
        pattern: &KeyPattern,
        owned: impl Fn(&Ids) -> bool,
    ) -> Result<u64, StoreError> {
        self.matching(pattern, owned, true).await
    }

    /// How many keys [`RedisDrafts::unlink_matching`] would unlink.
    pub async fn count_matching(
        &self,
        pattern: &KeyPattern,
        owned: impl Fn(&Ids) -> bool,
    ) -> Result<u64, StoreError> {
        self.matching(pattern, owned, false).await
    }

    async fn matching(
        &self,
        pattern: &KeyPattern,
        owned: impl Fn(&Ids) -> bool,
        unlink: bool,
    ) -> Result<u64, StoreError> {
        bounded(Backend::Redis, self.timeout * 10, async {
            let mut conn = self.conn().await?;
            let keys: Vec<String> = conn
                .scan_all(&pattern.scan_glob())
                .await?
                .into_iter()
                .filter(|key| pattern.ids_in(key).is_some_and(|ids| owned(&ids)))
                .collect();
            for batch in keys.chunks(UNLINK_BATCH).filter(|_| unlink) {
                let unlinks = batch.iter().map(redis::Cmd::unlink).collect();
                conn.each::<i64>(unlinks).await?;
            }
            Ok::<_, StoreError>(keys.len() as u64)
        })
        .await
    }
}
