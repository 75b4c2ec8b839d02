//! Every store as it is once the jobs are quiet: rows, stored files
//! (staging files and S3 uploads in progress included), Redis keys, webhook
//! deliveries.

use std::collections::HashMap;

use deadpool_redis::redis::AsyncCommands;
use uuid::Uuid;

use crate::servers::Redis;
use crate::storage::Storage;

pub struct CourseRow {
    pub id: Uuid,
    pub draft: Option<Uuid>,
    pub owner: Uuid,
    pub org: Uuid,
    pub status: String,
}

pub struct FileRow {
    pub id: Uuid,
    pub course: Uuid,
    pub storage_key: String,
    pub sha256: String,
    pub size: i64,
}

pub struct TusRow {
    pub id: Uuid,
    pub draft: Uuid,
    pub owner: Uuid,
    pub org: Uuid,
    pub length: i64,
    pub reserved: i64,
    pub finished: bool,
}

/// One lifecycle event as delivered (first delivery of each `webhook-id`).
pub struct Event {
    pub kind: String,
    pub course: Option<Uuid>,
}

pub struct Snapshot {
    pub courses: Vec<CourseRow>,
    pub files: Vec<FileRow>,
    pub tus: Vec<TusRow>,
    /// Storage keys (`Listing::stored`).
    pub stored: Vec<String>,
    /// S3 part files that no upload record explains.
    pub unrecorded_parts: Vec<String>,
    pub bytes_by_org: HashMap<Uuid, u64>,
    pub redis_keys: Vec<String>,
    pub events: Vec<Event>,
}

impl Snapshot {
    pub async fn take(
        db: &tokio_postgres::Client,
        redis: &Redis,
        storage: &Storage,
        events: Vec<Event>,
    ) -> Snapshot {
        let rows = |sql: &'static str| async move { db.query(sql, &[]).await.expect(sql) };
        let courses =
            rows("SELECT id, draft_session_id, owner_id, organization_id, status FROM courses")
                .await
                .iter()
                .map(|r| CourseRow {
                    id: r.get(0),
                    draft: r.get(1),
                    owner: r.get(2),
                    org: r.get(3),
                    status: r.get(4),
                })
                .collect();
        let files = rows("SELECT id, course_id, storage_key, sha256, size_bytes FROM course_files")
            .await
            .iter()
            .map(|r| FileRow {
                id: r.get(0),
                course: r.get(1),
                storage_key: r.get(2),
                sha256: r.get(3),
                size: r.get(4),
            })
            .collect();
        let tus = rows(
            "SELECT id, draft_session_id, owner_id, organization_id, upload_length, \
             reserved_bytes, status = 'finished' FROM tus_uploads",
        )
        .await
        .iter()
        .map(|r| TusRow {
            id: r.get(0),
            draft: r.get(1),
            owner: r.get(2),
            org: r.get(3),
            length: r.get(4),
            reserved: r.get(5),
            finished: r.get(6),
        })
        .collect();
        let mut connection = redis.connection().await;
        let redis_keys: Vec<String> = connection
            .keys(draftd::stores::redis::keys::ALL_PATTERN)
            .await
            .expect("redis KEYS");
        let listing = storage.listing().await;
        Snapshot {
            courses,
            files,
            tus,
            stored: listing.stored,
            unrecorded_parts: listing.unrecorded_parts,
            bytes_by_org: listing.bytes_by_org,
            redis_keys,
            events,
        }
    }

    pub fn course(&self, id: Uuid, draft: Uuid) -> Option<&CourseRow> {
        self.courses
            .iter()
            .find(|c| c.id == id || c.draft == Some(draft))
    }

    pub fn files_of(&self, course: Uuid) -> impl Iterator<Item = &FileRow> {
        self.files.iter().filter(move |f| f.course == course)
    }

    /// Stored objects and staging files under `prefix` (`{org}/{course}/`).
    pub fn stored_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a String> {
        self.stored.iter().filter(move |p| p.starts_with(prefix))
    }

    /// The course's events, in the order first delivered.
    pub fn events_of(&self, course: Uuid) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e.course == Some(course))
            .map(|e| e.kind.as_str())
            .collect()
    }
}

/// Distinct deliveries by `webhook-id`, in the order they first arrived.
pub fn distinct_events(deliveries: &[crate::receiver::Delivery]) -> Vec<Event> {
    let mut seen = HashMap::new();
    let mut events = Vec::new();
    for d in deliveries
        .iter()
        .filter(|d| (200..300).contains(&d.answered))
    {
        if seen.insert(d.webhook_id.clone(), ()).is_none() {
            events.push(Event {
                kind: d.kind().to_owned(),
                course: d.body["data"]["courseId"]
                    .as_str()
                    .and_then(|c| c.parse().ok()),
            });
        }
    }
    events
}
