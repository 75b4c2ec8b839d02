//! The mark on a draft whose course is in the trash: its autosave answers
//! "trashed" until the course is restored. Postgres holds the truth (the
//! course row's `trashed_at`); the mark only spares autosave, the hot path,
//! a Postgres round trip.

use std::sync::LazyLock;

use deadpool_redis::redis::Script;
use uuid::Uuid;

use super::keys::draft_key;
use super::scripts::on_record;
use super::RedisDrafts;
use crate::domain::StoreError;

static TRASH: LazyLock<Script> = LazyLock::new(|| on_record(&[include_str!("lua/trash.lua")]));

impl RedisDrafts {
    /// Marks (or unmarks) the user's draft of this course. `false` if the
    /// draft is gone or belongs to another course.
    pub async fn mark_trashed(
        &self,
        user_id: Uuid,
        draft_id: Uuid,
        course_id: Uuid,
        trashed: bool,
    ) -> Result<bool, StoreError> {
        let mut invocation = TRASH.prepare_invoke();
        invocation
            .key(draft_key(user_id, draft_id))
            .arg(course_id.to_string())
            .arg(if trashed { "1" } else { "" });
        Ok(self.run::<i64>(&invocation).await? == 1)
    }
}
