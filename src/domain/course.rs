//! Courses: the Postgres rows a draft becomes once it is real, and their files.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::fence::Fence;
use super::ids::{CourseId, DraftId, FileId, OrgId};
use super::Owner;

/// Namespace of course ids derived from draft ids.
const COURSE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6472_6166_7464_4000_8000_0063_6f75_7273);

/// The id of the course a draft becomes. Derived, not drawn: every request
/// racing to materialize a draft, and an upload streaming before the row
/// exists, agree on it (and on its storage prefix) in advance.
pub fn course_id_for(draft: DraftId) -> CourseId {
    Uuid::new_v5(&COURSE_ID_NAMESPACE, draft.as_uuid().as_bytes()).into()
}

/// The title of a course whose form has no topic yet.
pub const DEFAULT_TITLE: &str = "Untitled course";

/// The title of a course made from this form: its topic, or the default (a
/// topic holding characters a title may not, saved before autosave refused
/// them, is no title).
pub fn title_from(form: &Map<String, Value>) -> &str {
    form.get("topic")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|topic| !topic.is_empty() && super::form::is_clean_title(topic))
        .unwrap_or(DEFAULT_TITLE)
}

/// A URL slug from the title, transliterated ("Основы Rust" -> "osnovy-rust"),
/// made unique by the course id: a short suffix, or the whole id as the fallback.
pub fn slug_candidates(title: &str, course_id: CourseId) -> [String; 2] {
    let mut base = slug::slugify(title);
    if base.len() > 60 {
        let cut = base[..60].rfind('-').unwrap_or(60);
        base.truncate(cut);
    }
    if base.is_empty() {
        base = "course".into();
    }
    let id = course_id.as_uuid().simple().to_string();
    [format!("{base}-{}", &id[..8]), format!("{base}-{id}")]
}

/// What made a draft real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterializedBy {
    Submit,
    Upload,
    /// An explicit `POST /materialize`.
    Materialize,
    /// Opened while Redis was unreachable: the draft itself lives in the row.
    Degraded,
}

super::string_enum!(MaterializedBy, "materialized-by", {
    Submit => "submit",
    Upload => "upload",
    Materialize => "materialize",
    Degraded => "degraded",
});

/// Where a course is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseStatus {
    /// Made from a draft that is still being edited.
    Draft,
    Submitted,
}

super::string_enum!(CourseStatus, "course status", {
    Draft => "draft",
    Submitted => "submitted",
});

/// A course row, as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    pub id: CourseId,
    pub draft_session_id: Option<DraftId>,
    pub organization_id: OrgId,
    pub slug: String,
    pub title: String,
    pub status: CourseStatus,
    pub generation_status: Option<String>,
    pub materialized_by: Option<MaterializedBy>,
    pub materialized_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the course is in the trash.
    pub trashed_at: Option<DateTime<Utc>>,
    /// When the trashed course is erased for good; it can be restored until then.
    pub purge_at: Option<DateTime<Utc>>,
    pub form_data: Map<String, Value>,
}

impl Course {
    pub fn is_trashed(&self) -> bool {
        self.trashed_at.is_some()
    }
}

/// A course as the owner's lists show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseSummary {
    pub id: CourseId,
    pub draft_session_id: Option<DraftId>,
    pub status: CourseStatus,
    pub title: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub file_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trashed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<DateTime<Utc>>,
}

/// Which of the owner's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CourseList {
    /// The courses, newest first.
    Live,
    /// The trash, most recently deleted first.
    Trash,
}

/// What moving a course to the trash, or restoring it, found.
pub enum TrashOutcome {
    /// The course as it is now (changed by this call or already so).
    Done(Box<Course>),
    /// No such course of the owner's, or (restore) its retention has ended.
    Missing,
}

/// A course with its files.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseWithFiles {
    #[serde(flatten)]
    pub course: Course,
    pub files: Vec<CourseFile>,
}

/// An uploaded file's metadata.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseFile {
    pub id: FileId,
    pub course_id: CourseId,
    /// The name the client gave; never used as a path.
    pub original_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub storage_key: String,
}

/// The answer of materialize and submit: which course the draft is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseRef {
    pub course_id: CourseId,
    pub course_slug: String,
    pub status: CourseStatus,
}

impl From<&Course> for CourseRef {
    fn from(course: &Course) -> Self {
        CourseRef {
            course_id: course.id,
            course_slug: course.slug.clone(),
            status: course.status,
        }
    }
}

/// A course to create for a draft, unless the draft already has one.
pub struct NewCourse<'a> {
    pub id: CourseId,
    pub draft_session_id: DraftId,
    /// Whose it is, and when their token was issued (for the fence).
    pub owner: Owner,
    pub title: &'a str,
    pub form_data: &'a Map<String, Value>,
    pub materialized_by: MaterializedBy,
    /// The version of a draft kept in the course row itself (degraded mode):
    /// stored when the row is created, and the version a submit requires.
    /// `None` for a draft kept in Redis.
    pub draft_version: Option<i64>,
}

/// What a submit did.
pub enum SubmitOutcome {
    /// The course is submitted (by this call, or by an earlier one whose data
    /// stands); `true` if this call created the row.
    Submitted(Box<Course>, bool),
    /// The draft kept in the row changed since it was validated.
    Changed,
    /// The course is in the trash: nothing changes through its draft.
    Trashed,
    /// The course, its draft or its subject was deleted: nothing of it is
    /// recorded again.
    Fenced(Fence),
}

/// How much one course and one organization may store.
#[derive(Debug, Clone, Copy)]
pub struct FileQuota {
    pub files_per_course: i64,
    pub organization_bytes: i64,
    /// Bytes one user's unfinished resumable uploads may hold reserved and
    /// not yet sent.
    pub reserved_bytes_per_user: i64,
}

/// What recording an uploaded file answered.
pub enum RecordOutcome {
    Recorded {
        course: Box<Course>,
        file: CourseFile,
        /// This upload created the course row.
        created: bool,
    },
    /// The course holds `limit` files already.
    TooManyFiles { limit: i64 },
    /// The organization stores `used` bytes; this file would pass `limit`.
    StorageFull { limit: i64, used: i64 },
    /// The course is in the trash: nothing changes through its draft.
    Trashed,
    /// The course, its draft or its subject was deleted: nothing of it is
    /// recorded again.
    Fenced(Fence),
}

/// A stored file to record.
pub struct NewFile<'a> {
    pub id: FileId,
    pub storage_key: &'a str,
    pub original_name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
}

/// Where a course's files are stored: `{orgId}/{courseId}`, then the file id.
pub fn storage_prefix(organization_id: OrgId, course_id: CourseId) -> String {
    format!("{organization_id}/{course_id}")
}

/// Where a file is stored: `{orgId}/{courseId}/{fileId}`.
pub fn storage_key(organization_id: OrgId, course_id: CourseId, file_id: FileId) -> String {
    format!("{organization_id}/{course_id}/{file_id}")
}

/// The organization and course of a key [`storage_key`] made (or of any
/// key under a [`storage_prefix`]); `None` for a key of another shape.
pub fn course_of_storage_key(key: &str) -> Option<(OrgId, CourseId)> {
    let mut parts = key.split('/');
    let org = parts.next()?.parse().ok()?;
    let course = parts.next()?.parse().ok()?;
    Some((org, course))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_key_names_its_organization_and_course() {
        let (org, course, file) = (
            OrgId::from(Uuid::new_v4()),
            CourseId::from(Uuid::new_v4()),
            FileId::new(),
        );
        let key = storage_key(org, course, file);
        assert!(key.starts_with(&storage_prefix(org, course)));
        assert_eq!(course_of_storage_key(&key), Some((org, course)));
        assert_eq!(course_of_storage_key(".tus/x"), None);
        assert_eq!(course_of_storage_key(&format!("{org}")), None);
    }

    #[test]
    fn a_topic_a_title_may_not_hold_titles_nothing() {
        let form = |topic: &str| Map::from_iter([("topic".to_owned(), Value::from(topic))]);
        assert_eq!(title_from(&form(" Rust \u{200F}")), "Rust \u{200F}");
        assert_eq!(title_from(&form("Rust \u{202E}nohtyP")), DEFAULT_TITLE);
        assert_eq!(title_from(&form("one\ntwo")), DEFAULT_TITLE);
        assert_eq!(title_from(&form("  ")), DEFAULT_TITLE);
    }

    #[test]
    fn slugs_read_well_for_non_latin_topics() {
        let id = CourseId::from(Uuid::nil());
        assert_eq!(
            slug_candidates("Основы Rust", id)[0],
            "osnovy-rust-00000000"
        );
        assert_eq!(slug_candidates("  !!! ", id)[0], "course-00000000");
        let long = slug_candidates(&"word ".repeat(40), id);
        assert!(
            long[0].len() <= 69 && !long[0].contains("--"),
            "{}",
            long[0]
        );
        assert!(long[1].ends_with("00000000000000000000000000000000"));
    }

    #[test]
    fn a_draft_always_becomes_the_same_course() {
        let draft = DraftId::new();
        assert_eq!(course_id_for(draft), course_id_for(draft));
        assert_ne!(course_id_for(draft), course_id_for(DraftId::new()));
    }
}
