//! The events outbox in Postgres: how a change records its event (SQL that
//! the change's own statements embed, in its transaction), and the delivery
//! worker's queue.
//!
//! Whether events are recorded is a property of the connection: while a
//! webhook URL is configured, [`Postgres::connect`] gives every pooled
//! connection the setting `draftd.events = on`, and each insert below is
//! `… WHERE` [`EVENTS_ON`]. So no call site carries a flag, and every path
//! that changes a course (the CLI's jobs included) records alike.
//!
//! A course's events are numbered while the change holds the course row's
//! lock (every statement here locks it first), so they are numbered in commit
//! order, and the worker takes only the first undelivered event of a course.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::Postgres;
use crate::domain::event::{EventKind, OutboxEvent};
use crate::domain::{Backend, StoreError};

/// The connection setting that turns recording on.
pub const EVENTS_SETTING: &str = "draftd.events";

/// True on a connection that records events.
pub(super) const EVENTS_ON: &str = "current_setting('draftd.events', true) = 'on'";

/// Delivered events are kept this long (for an operator's look), then removed.
const DELIVERED_KEPT_DAYS: i32 = 7;
/// Delivered events removed per statement.
const PRUNE_BATCH: i64 = 1000;

const EVENT_COLUMNS: &str = "id, webhook_id, course_id, type, data, occurred_at, attempts";

/// An INSERT of one `kind` event for each row of `source` (columns of
/// `courses`, at least id, organization_id, owner_id, draft_session_id,
/// status and announced_at) that was announced, on a connection that records
/// events. `file_id` is the SQL of the file's id, for file events.
pub(super) fn record(kind: EventKind, source: &str, file_id: Option<&str>) -> String {
    let file = file_id.map_or(String::new(), |id| format!(", 'fileId', {id}"));
    format!(
        "INSERT INTO webhook_events (course_id, type, data)
         SELECT s.id, '{kind}', jsonb_build_object('courseId', s.id,
             'organizationId', s.organization_id, 'userId', s.owner_id,
             'draftSessionId', s.draft_session_id, 'status', s.status{file})
         FROM {source} s WHERE s.announced_at IS NOT NULL AND {EVENTS_ON}"
    )
}

/// Announces the course (records `course.materialized`) unless it was, or is
/// in the trash, on a connection that records events: in the transaction of
/// a materialize, an upload or a submit. A degraded-mode draft row, made when
/// its form opened, is announced so by its first such call.
pub(super) async fn announce(
    client: &impl GenericClient,
    course_id: Uuid,
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

/// The delivery worker's queue.
#[derive(Clone)]
pub struct Outbox {
    db: Postgres,
}

impl Outbox {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Claims up to `limit` due events, each the first undelivered one of its
    /// course, for `lease_secs`: a worker that dies holding one lets it fall
    /// due again when the lease ends. The claim counts an attempt.
    pub async fn claim(&self, limit: i64, lease_secs: f64) -> Result<Vec<OutboxEvent>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "UPDATE webhook_events SET attempts = attempts + 1, updated_at = now(),
                                 next_attempt_at = now() + make_interval(secs => $2)
                             WHERE id IN (
                                 SELECT id FROM webhook_events e
                                 WHERE status = 'pending' AND next_attempt_at <= now()
                                   AND NOT EXISTS (SELECT 1 FROM webhook_events p
                                       WHERE p.course_id = e.course_id AND p.id < e.id
                                         AND p.status <> 'delivered')
                                 ORDER BY next_attempt_at, id LIMIT $1
                                 FOR UPDATE SKIP LOCKED)
                             RETURNING {EVENT_COLUMNS}"
                        ),
                        &[&limit, &lease_secs],
                    )
                    .await?;
                rows.iter().map(event_from).collect()
            })
            .await
    }

    /// A 2xx answered the event.
    pub async fn delivered(&self, id: i64) -> Result<(), StoreError> {
        self.db
            .call(|client| async move {
                client
                    .execute(
                        "UPDATE webhook_events SET status = 'delivered', delivered_at = now(),
                             updated_at = now(), last_error = NULL
                         WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    /// A failed attempt: the event is due again after `backoff_secs`, or,
    /// with `dead`, waits for a redrive.
    pub async fn failed(
        &self,
        id: i64,
        error: &str,
        dead: bool,
        backoff_secs: f64,
    ) -> Result<(), StoreError> {
        self.db
            .call(|client| async move {
                client
                    .execute(
                        "UPDATE webhook_events SET last_error = $2, updated_at = now(),
                             status = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
                             next_attempt_at = now() + make_interval(secs => $4)
                         WHERE id = $1",
                        &[&id, &error, &dead, &backoff_secs],
                    )
                    .await?;
                Ok(())
            })
            .await
    }

    /// Puts dead events (all, or those listed) back, with fresh attempts, due now.
    pub async fn retry_dead(&self, ids: Option<&[i64]>) -> Result<u64, StoreError> {
        self.db
            .call(|client| async move {
                Ok(client
                    .execute(
                        "UPDATE webhook_events SET status = 'pending', attempts = 0,
                             next_attempt_at = now(), updated_at = now()
                         WHERE status = 'dead' AND ($1::bigint[] IS NULL OR id = ANY($1))",
                        &[&ids],
                    )
                    .await?)
            })
            .await
    }

    /// Pending and dead events.
    pub async fn counts(&self) -> Result<(i64, i64), StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE status = 'pending'),
                             count(*) FILTER (WHERE status = 'dead')
                         FROM webhook_events WHERE status <> 'delivered'",
                        &[],
                    )
                    .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
            .await
    }

    /// Removes a batch of events delivered more than 7 days ago; how many.
    pub async fn prune_delivered(&self) -> Result<u64, StoreError> {
        self.db
            .call(|client| async move {
                Ok(client
                    .execute(
                        "DELETE FROM webhook_events WHERE id IN (
                             SELECT id FROM webhook_events WHERE status = 'delivered'
                               AND delivered_at < now() - make_interval(days => $1)
                             LIMIT $2)",
                        &[&DELIVERED_KEPT_DAYS, &PRUNE_BATCH],
                    )
                    .await?)
            })
            .await
    }
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

fn event_from(row: &tokio_postgres::Row) -> Result<OutboxEvent, StoreError> {
    let data = match row.try_get::<_, serde_json::Value>("data")? {
        serde_json::Value::Object(map) => map,
        other => {
            return Err(StoreError::corrupt(
                Backend::Postgres,
                format!("an event's data is not an object: {other}"),
            ))
        }
    };
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        course_id: row.try_get("course_id")?,
        kind: super::rows::parsed(row, "type")?,
        data,
        occurred_at: row.try_get("occurred_at")?,
        attempts: row.try_get("attempts")?,
    })
}
