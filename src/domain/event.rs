//! Lifecycle events: what downstream systems (a vector store, a RAG cache, the
//! generation pipeline) are told about courses and their files, recorded in
//! an outbox in the transaction of the change and delivered as webhooks.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::ids::CourseId;

use super::job::JobStatus;

/// What happened to a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "course.materialized")]
    /// A course row appeared for a draft (or a degraded-mode draft row was
    /// materialized, uploaded to or submitted).
    CourseMaterialized,
    #[serde(rename = "course.submitted")]
    CourseSubmitted,
    #[serde(rename = "course.trashed")]
    CourseTrashed,
    #[serde(rename = "course.restored")]
    CourseRestored,
    /// Erased, by any path: its row, files and keys are going.
    #[serde(rename = "course.deleted")]
    CourseDeleted,
    #[serde(rename = "file.uploaded")]
    FileUploaded,
    #[serde(rename = "file.deleted")]
    FileDeleted,
}

super::string_enum!(EventKind, "event type", {
    CourseMaterialized => "course.materialized",
    CourseSubmitted => "course.submitted",
    CourseTrashed => "course.trashed",
    CourseRestored => "course.restored",
    CourseDeleted => "course.deleted",
    FileUploaded => "file.uploaded",
    FileDeleted => "file.deleted",
});

/// Where an event is in its delivery, as an operator reads it: its job's
/// status, with `done` named for what it means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt, or being attempted.
    Pending,
    /// A 2xx answered it; kept 7 days, then removed with its attempts.
    Delivered,
    /// Out of attempts, or answered 410: holds back its course's later
    /// events until redriven.
    Dead,
}

impl From<JobStatus> for DeliveryStatus {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Pending => Self::Pending,
            JobStatus::Done => Self::Delivered,
            JobStatus::Dead => Self::Dead,
        }
    }
}

/// The job queue's name of the webhook delivery task: stored in `jobs.task`.
pub const DELIVERY_TASK: &str = "webhook.delivery";

/// An event, as its delivery job holds it (the job's payload): what the
/// SQL that records it builds (stores/postgres/outbox.rs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEvent {
    /// The `webhook-id`: the same on every delivery of this event.
    pub webhook_id: Uuid,
    pub course_id: CourseId,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// `courseId`, `organizationId`, `userId`, `draftSessionId`, `status`,
    /// and `fileId` for file events.
    pub data: Map<String, Value>,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: &'a Map<String, Value>,
}

impl OutboxEvent {
    /// The JSON body: `{"type", "timestamp", "data"}`; the same bytes on
    /// every delivery.
    pub fn body(&self) -> String {
        let body = Body {
            kind: self.kind.as_str(),
            timestamp: self
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            data: &self.data,
        };
        // A map of JSON values with string keys always serializes.
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// How one delivery attempt ended, from the receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// 410 Gone: the receiver wants no more of it; dead at once.
    Gone,
    /// 429 Too Many Requests or 503 Service Unavailable: the receiver may
    /// say when to come back (`Retry-After`).
    Busy,
    /// Anything else, or no answer: retried until out of attempts.
    Failed,
}

impl Verdict {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Verdict::Delivered,
            410 => Verdict::Gone,
            429 | 503 => Verdict::Busy,
            _ => Verdict::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_stored_values() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
        }
        assert!("course.created".parse::<EventKind>().is_err());
        for kind in EventKind::ALL {
            let json = serde_json::to_value(kind).unwrap_or_default();
            assert_eq!(json, kind.as_str(), "serde agrees with the SQL value");
        }
    }

    /// What the recording SQL builds reads back as the payload.
    #[test]
    fn the_payload_reads_back() {
        let payload = serde_json::json!({
            "webhookId": Uuid::nil(), "courseId": Uuid::nil(), "type": "course.trashed",
            "data": {"courseId": "c"}, "occurredAt": "2026-01-02T03:04:05.123456+00:00",
        });
        let event: Result<OutboxEvent, _> = serde_json::from_value(payload);
        assert_eq!(event.map(|e| e.kind).ok(), Some(EventKind::CourseTrashed));
    }

    #[test]
    fn only_2xx_delivers_and_only_410_kills_at_once() {
        assert_eq!(Verdict::of_status(200), Verdict::Delivered);
        assert_eq!(Verdict::of_status(204), Verdict::Delivered);
        assert_eq!(Verdict::of_status(410), Verdict::Gone);
        assert_eq!(Verdict::of_status(429), Verdict::Busy);
        assert_eq!(Verdict::of_status(503), Verdict::Busy);
        for status in [301, 400, 404, 500, 502] {
            assert_eq!(Verdict::of_status(status), Verdict::Failed, "{status}");
        }
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let mut data = Map::new();
        data.insert("courseId".into(), Value::String("c".into()));
        let event = OutboxEvent {
            webhook_id: Uuid::nil(),
            course_id: Uuid::nil().into(),
            kind: EventKind::FileDeleted,
            data,
            occurred_at: DateTime::UNIX_EPOCH,
        };
        let body: Value = serde_json::from_str(&event.body()).unwrap_or_default();
        assert_eq!(body["type"], "file.deleted");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(body["data"]["courseId"], "c");
    }
}
