//! What an erase's subject has in every store: the counts before and after.

use uuid::Uuid;

use super::Eraser;
use crate::domain::erase::{EraseScope, EraseSubject, Inventory};
use crate::domain::key_pattern::{Ids, Placeholder};
use crate::domain::StoreError;

impl Eraser {
    /// What the subject has in every store now; `erasure`'s deleted courses
    /// count as the subject's.
    pub(super) async fn inventory(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<Inventory, StoreError> {
        let (
            (courses, file_rows),
            (pending, dead),
            (events_pending, events_dead),
            draft_keys,
            (objects, bytes),
            pattern_keys,
            (tus_uploads, tus_bytes),
        ) = tokio::try_join!(
            self.stores.erasures.course_counts(subject),
            self.stores.erasures.job_counts(subject, erasure),
            self.stores.erasures.event_counts(subject, erasure),
            self.stores.redis.count_drafts_of(subject),
            self.stored(subject, erasure),
            self.pattern_keys(subject, erasure, false),
            self.stores.tus.count_subject(subject),
        )?;
        Ok(Inventory {
            courses,
            file_rows,
            objects,
            bytes,
            draft_keys,
            pattern_keys,
            tus_uploads,
            tus_bytes,
            cleanup_jobs_pending: pending,
            cleanup_jobs_dead: dead,
            events_pending,
            events_dead,
        })
    }

    /// The platform's keys of the subject's courses (those `erasure` deleted
    /// included) and of the subject itself: counted, or unlinked. One scan
    /// per pattern, whatever the number of courses.
    pub(super) async fn pattern_keys(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
        unlink: bool,
    ) -> Result<u64, StoreError> {
        if self.settings.patterns.is_empty() {
            return Ok(0);
        }
        let courses = self.stores.erasures.course_ids(subject, erasure).await?;
        let itself = match subject.scope {
            EraseScope::Organization => Placeholder::Organization,
            EraseScope::User => Placeholder::User,
        };
        let owned = |ids: &Ids| match ids.get(&Placeholder::Course) {
            Some(course) => courses.contains(course),
            None => ids.get(&itself) == Some(&subject.id),
        };
        let mut keys = 0;
        for pattern in self.settings.patterns.iter() {
            keys += if unlink {
                self.stores.redis.unlink_matching(pattern, owned).await?
            } else {
                self.stores.redis.count_matching(pattern, owned).await?
            };
        }
        Ok(keys)
    }

    /// Objects and bytes under the subject's storage prefixes.
    async fn stored(
        &self,
        subject: EraseSubject,
        erasure: Option<Uuid>,
    ) -> Result<(u64, u64), StoreError> {
        let (mut objects, mut bytes) = (0, 0);
        for prefix in self
            .stores
            .erasures
            .storage_prefixes(subject, erasure)
            .await?
        {
            for (_, size) in self.stores.files.list_sized(&prefix).await? {
                objects += 1;
                bytes += size;
            }
        }
        Ok((objects, bytes))
    }
}
