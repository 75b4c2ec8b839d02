//! Lifecycle events: what downstream systems (a vector store, a RAG cache, the
//! generation pipeline) are told about courses and their files, recorded in
//! an outbox in the transaction of the change and delivered as webhooks.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

/// What happened to a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// A course row appeared for a draft (or a degraded-mode draft row was
    /// materialized, uploaded to or submitted).
    CourseMaterialized,
    CourseSubmitted,
    CourseTrashed,
    CourseRestored,
    /// Erased, by any path: its row, files and keys are going.
    CourseDeleted,
    FileUploaded,
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

/// Where an event is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Waiting for its (next) attempt, or being attempted.
    Pending,
    /// A 2xx answered it; the row is kept a while, then removed.
    Delivered,
    /// Out of attempts, or answered 410: waits for an operator's redrive,
    /// and holds back its course's later events until then.
    Dead,
}

super::string_enum!(EventStatus, "event status", {
    Pending => "pending",
    Delivered => "delivered",
    Dead => "dead",
});

/// An event in the outbox, as the delivery worker claims it.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// The outbox's sequence: a course's events go out in this order.
    pub id: i64,
    /// The `webhook-id`: the same on every delivery of this event.
    pub webhook_id: Uuid,
    pub course_id: Uuid,
    pub kind: EventKind,
    /// `courseId`, `organizationId`, `userId`, `draftSessionId`, `status`,
    /// and `fileId` for file events.
    pub data: Map<String, Value>,
    pub occurred_at: DateTime<Utc>,
    /// Attempts so far, this one included.
    pub attempts: i32,
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
    /// Anything else, or no answer: retried until out of attempts.
    Failed,
}

impl Verdict {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Verdict::Delivered,
            410 => Verdict::Gone,
            _ => Verdict::Failed,
        }
    }
}

/// What the worker did with an attempt: the label of its counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryOutcome {
    Delivered,
    Retried,
    Dead,
}

super::string_enum!(DeliveryOutcome, "delivery outcome", {
    Delivered => "delivered",
    Retried => "retried",
    Dead => "dead",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_stored_values() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(*kind));
        }
        assert!("course.created".parse::<EventKind>().is_err());
    }

    #[test]
    fn only_2xx_delivers_and_only_410_kills_at_once() {
        assert_eq!(Verdict::of_status(200), Verdict::Delivered);
        assert_eq!(Verdict::of_status(204), Verdict::Delivered);
        assert_eq!(Verdict::of_status(410), Verdict::Gone);
        for status in [301, 400, 404, 429, 500, 503] {
            assert_eq!(Verdict::of_status(status), Verdict::Failed, "{status}");
        }
    }

    #[test]
    fn the_body_has_type_timestamp_and_data() {
        let mut data = Map::new();
        data.insert("courseId".into(), Value::String("c".into()));
        let event = OutboxEvent {
            id: 1,
            webhook_id: Uuid::nil(),
            course_id: Uuid::nil(),
            kind: EventKind::FileDeleted,
            data,
            occurred_at: DateTime::UNIX_EPOCH,
            attempts: 1,
        };
        let body: Value = serde_json::from_str(&event.body()).unwrap_or_default();
        assert_eq!(body["type"], "file.deleted");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(body["data"]["courseId"], "c");
    }
}
