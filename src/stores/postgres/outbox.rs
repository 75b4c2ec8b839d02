//! The events outbox in Postgres: how a change records its event, a delivery
//! job of the queue (SQL that the change's own statements embed, in its
//! transaction).
//!
//! Whether events are recorded is a property of the connection: while a
//! webhook URL is configured, [`Postgres::connect`] gives every pooled
//! connection the setting `draftd.events = on`, and each insert below is
//! `… WHERE` [`EVENTS_ON`]. So no call site carries a flag, and every path
//! that changes a course (the CLI's jobs included) records alike.
//!
//! A course's events are numbered while the change holds the course row's
//! lock (every statement here locks it first), so they are numbered in commit
//! order; the course is the job's ordering key, so the runner takes only the
//! first undelivered event of a course.

use deadpool_postgres::GenericClient;

use super::queue::enqueue;
use super::Postgres;
use crate::domain::event::{EventKind, DELIVERY_TASK};
use crate::domain::ids::CourseId;
use crate::domain::StoreError;

/// The connection setting that turns recording on.
pub const EVENTS_SETTING: &str = "draftd.events";

/// True on a connection that records events.
pub(super) const EVENTS_ON: &str = "current_setting('draftd.events', true) = 'on'";

/// An INSERT of one `kind` event's delivery job (an
/// [`crate::domain::event::OutboxEvent`] payload, its course the ordering
/// key) for each row of `source` (columns of `courses`, at least id,
/// organization_id, owner_id, draft_session_id, status and announced_at)
/// that was announced, on a connection that records events. `file_id` is the
/// SQL of the file's id, for file events.
pub(super) fn record(kind: EventKind, source: &str, file_id: Option<&str>) -> String {
    let file = file_id.map_or(String::new(), |id| format!(", 'fileId', {id}"));
    let payload = format!(
        "jsonb_build_object('webhookId', gen_random_uuid(), 'courseId', s.id,
             'type', '{kind}', 'occurredAt', now(),
             'data', jsonb_build_object('courseId', s.id,
                 'organizationId', s.organization_id, 'userId', s.owner_id,
                 'draftSessionId', s.draft_session_id, 'status', s.status{file}))"
    );
    format!(
        "{} WHERE s.announced_at IS NOT NULL AND {EVENTS_ON}",
        enqueue(DELIVERY_TASK, source, &payload, "s.id", "s.id")
    )
}

/// Announces the course (records `course.materialized`) unless it was, or is
/// in the trash, on a connection that records events: in the transaction of
/// a materialize, an upload or a submit. A degraded-mode draft row, made when
/// its form opened, is announced so by its first such call.
pub(super) async fn announce(
    client: &impl GenericClient,
    course_id: CourseId,
) -> Result<(), StoreError> {
    client
        .execute(
            &format!(
                "WITH announced AS (
                     UPDATE courses SET announced_at = now()
                     WHERE id = $1 AND announced_at IS NULL AND trashed_at IS NULL
                       AND {EVENTS_ON}
                     RETURNING *
                 ) {}",
                record(EventKind::CourseMaterialized, "announced", None)
            ),
            &[&course_id],
        )
        .await?;
    Ok(())
}

impl Postgres {
    /// Whether this pool's connections record events; a pooler that drops
    /// the connection's options would silently lose them, so startup checks.
    pub async fn records_events(&self) -> Result<bool, StoreError> {
        self.call(|client| async move {
            let row = client
                .query_one(&format!("SELECT {EVENTS_ON}"), &[])
                .await?;
            Ok(row.try_get::<_, Option<bool>>(0)?.unwrap_or(false))
        })
        .await
    }
}
