//! The mark on a draft whose course is in the trash: its autosave answers
//! "trashed" until the course is restored. Postgres holds the truth (the
//! course row's `trashed_at`); the mark only spares autosave, the hot path,
//! a Postgres round trip.

use crate::domain::ids::{CourseId, DraftId, UserId};

use super::keys::draft_key;
use super::reply;
use super::RedisDrafts;
use crate::domain::StoreError;

impl RedisDrafts {
    /// Marks (or unmarks) the user's draft of this course. `false` if the
    /// draft is gone or belongs to another course.
    pub async fn mark_trashed(
        &self,
        user_id: UserId,
        draft_id: DraftId,
        course_id: CourseId,
        trashed: bool,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.scripts.trash.prepare_invoke();
        invocation
            .key(draft_key(user_id, draft_id))
            .arg(course_id.to_string())
            .arg(if trashed { "1" } else { "" });
        reply::found("trash", self.run(&invocation).await?)
    }
}
