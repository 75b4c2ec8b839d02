//! The steps only a draft kept in Redis takes (a draft kept in Postgres is
//! its course row, which submit's own conditional update freezes and which
//! keeps no tombstone): submit's freeze and its undoing, the course recorded
//! in the draft, and the discard's tombstone.

use deadpool_redis::redis;

use super::super::breaker::millis;
use super::super::keys::{discarded_key, events_channel};
use super::super::reply;
use super::RedisDrafts;
use crate::domain::draft::{FreezeOutcome, StoreResult, SUBMITTED_SESSION_TTL};
use crate::domain::ids::{CourseId, DraftId};
use crate::domain::{Owner, StoreError};

impl RedisDrafts {
    /// Marks the draft submitted (read-only) if it is still at `version`.
    pub async fn freeze(
        &self,
        owner: Owner,
        id: DraftId,
        version: u64,
    ) -> StoreResult<FreezeOutcome> {
        let mut invocation = Self::owned(&self.scripts.freeze, owner, id);
        invocation.arg(version);
        reply::frozen(self.run(&invocation).await?)
    }

    /// Undoes a freeze at `version` after a submit that failed for good: the
    /// draft is editable again.
    pub async fn thaw(&self, owner: Owner, id: DraftId, version: u64) -> StoreResult<()> {
        let mut invocation = Self::owned(&self.scripts.thaw, owner, id);
        invocation.arg(version);
        reply::found("thaw", self.run(&invocation).await?).map(|_| ())
    }

    /// Records the draft's course; an open draft becomes materialized, a
    /// submitted one lives on only briefly. A draft that expired meanwhile
    /// is left alone.
    pub async fn attach_course(
        &self,
        owner: Owner,
        id: DraftId,
        course_id: CourseId,
        slug: &str,
    ) -> StoreResult<()> {
        let mut invocation = Self::owned(&self.scripts.attach_course, owner, id);
        invocation
            .key(events_channel(owner.user_id, id))
            .arg(course_id.to_string())
            .arg(slug)
            .arg(millis(SUBMITTED_SESSION_TTL));
        reply::found("attach_course", self.run(&invocation).await?).map(|_| ())
    }

    /// Whether the owner discarded the draft `id` less than the draft TTL
    /// ago: its tombstone is there.
    pub async fn discarded(&self, owner: Owner, id: DraftId) -> StoreResult<bool> {
        self.breaker
            .call(async {
                let mut conn = self.conn().await?;
                let organization: Option<String> = redis::cmd("GET")
                    .arg(discarded_key(owner.user_id, id))
                    .query_async(&mut conn)
                    .await?;
                // The same user in another organization is someone else.
                Ok::<_, StoreError>(
                    organization.is_some_and(|org| org == owner.organization_id.to_string()),
                )
            })
            .await
    }
}
