//! What the jobs and the admin ask of draft sessions, beside the draft store
//! itself: the cleanup worker's delete, the write rate, the janitor's
//! liveness check, the stats' count and the orphan sweep's scan.

use std::collections::HashSet;
use std::time::Duration;

use deadpool_redis::redis;

use super::super::breaker::millis;
use super::super::keys::{
    discarded_key, draft_key, events_channel, parse_draft_key, write_rate_key, SESSION_PATTERN,
};
use super::super::record::{course_of, read_records};
use super::super::reply;
use super::RedisDrafts;
use crate::domain::ids::{DraftId, UserId};
use crate::domain::{Backend, SessionRef, StoreError, UserDraft};
use crate::stores::bounded;

impl RedisDrafts {
    /// Deletes a draft, whatever its organization; `false` if there was none.
    pub async fn delete(&self, user_id: UserId, id: DraftId) -> Result<bool, StoreError> {
        let mut invocation = Self::on_draft(&self.scripts.delete, user_id, None, id);
        invocation
            .key(events_channel(user_id, id))
            .key(discarded_key(user_id, id))
            .arg("")
            .arg("");
        reply::found("delete", self.run(&invocation).await?)
    }

    /// Counts one write of the user in the current window of `window` (or,
    /// unless `spend`, only reads the count): the count so far, and how long
    /// the window has left.
    pub async fn count_write(
        &self,
        user_id: UserId,
        window: Duration,
        spend: bool,
    ) -> Result<(u64, Duration), StoreError> {
        let mut invocation = self.scripts.write_rate.prepare_invoke();
        invocation
            .key(write_rate_key(user_id))
            .arg(millis(window))
            .arg(if spend { "1" } else { "0" });
        reply::write_count(self.run(&invocation).await?)
    }

    /// Which of these drafts still exist.
    pub async fn alive(&self, drafts: &[UserDraft]) -> Result<HashSet<UserDraft>, StoreError> {
        if drafts.is_empty() {
            return Ok(HashSet::new());
        }
        let exists: Vec<bool> = self
            .breaker
            .call(async {
                let commands = drafts
                    .iter()
                    .map(|d| redis::Cmd::exists(draft_key(d.user, d.draft)))
                    .collect();
                self.conn().await?.each(commands).await
            })
            .await?;
        Ok(drafts
            .iter()
            .zip(exists)
            .filter_map(|(draft, exists)| exists.then_some(*draft))
            .collect())
    }

    /// How many draft sessions exist, for the admin's stats.
    pub async fn count(&self) -> Result<u64, StoreError> {
        bounded(Backend::Redis, self.timeout * 10, async {
            let keys = self.conn().await?.scan_all(SESSION_PATTERN).await?;
            Ok::<_, StoreError>(keys.len() as u64)
        })
        .await
    }

    /// Every draft session, with its course if any. A full scan,
    /// for the daily orphan sweep.
    pub async fn scan(&self) -> Result<Vec<SessionRef>, StoreError> {
        bounded(Backend::Redis, self.timeout * 10, async {
            let mut conn = self.conn().await?;
            let keys = conn.scan_all(SESSION_PATTERN).await?;
            let drafts: Vec<UserDraft> =
                keys.iter().filter_map(|key| parse_draft_key(key)).collect();
            let keys: Vec<String> = drafts.iter().map(|d| draft_key(d.user, d.draft)).collect();
            let records = read_records(&mut conn, &keys, &self.scripts.read).await?;
            // A draft that expired since the SCAN has no course.
            Ok::<_, StoreError>(
                drafts
                    .into_iter()
                    .zip(records)
                    .map(|(UserDraft { user, draft }, record)| SessionRef {
                        user,
                        draft,
                        course: record.and_then(|r| course_of(draft, &r)),
                    })
                    .collect(),
            )
        })
        .await
    }
}
