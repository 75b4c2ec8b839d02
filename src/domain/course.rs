//! Courses: the Postgres rows a draft becomes once it is real, and their files.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// Namespace of course ids derived from draft ids.
const COURSE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6472_6166_7464_4000_8000_0063_6f75_7273);

/// The id of the course a draft becomes. Derived, not drawn: every request
/// racing to materialize a draft, and an upload streaming before the row
/// exists, agree on it (and on its storage prefix) in advance.
pub fn course_id_for(draft_id: Uuid) -> Uuid {
    Uuid::new_v5(&COURSE_ID_NAMESPACE, draft_id.as_bytes())
}

/// The title of a course whose form has no topic yet.
pub const DEFAULT_TITLE: &str = "Untitled course";

/// The title of a course made from this form: its topic, or the default.
pub fn title_from(form: &Map<String, Value>) -> &str {
    form.get("topic")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|topic| !topic.is_empty())
        .unwrap_or(DEFAULT_TITLE)
}

/// A URL slug from the title, transliterated ("Основы Rust" -> "osnovy-rust"),
/// made unique by the course id: a short suffix, or the whole id as the fallback.
pub fn slug_candidates(title: &str, course_id: Uuid) -> [String; 2] {
    let mut base = slug::slugify(title);
    if base.len() > 60 {
        let cut = base[..60].rfind('-').unwrap_or(60);
        base.truncate(cut);
    }
    if base.is_empty() {
        base = "course".into();
    }
    let id = course_id.simple().to_string();
    [format!("{base}-{}", &id[..8]), format!("{base}-{id}")]
}

/// What made a draft real.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MaterializedBy {
    Submit,
    Upload,
    /// An explicit `POST /materialize`.
    Materialize,
    /// Opened while Redis was unreachable: the draft itself lives in the row.
    Degraded,
}

impl MaterializedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Upload => "upload",
            Self::Materialize => "materialize",
            Self::Degraded => "degraded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Submit,
            Self::Upload,
            Self::Materialize,
            Self::Degraded,
        ]
        .into_iter()
        .find(|by| by.as_str() == s)
    }
}

/// A course row, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Course {
    pub id: Uuid,
    pub draft_session_id: Option<Uuid>,
    pub organization_id: Uuid,
    pub slug: String,
    pub title: String,
    /// `draft` or `submitted`.
    pub status: String,
    pub generation_status: Option<String>,
    pub materialized_by: Option<MaterializedBy>,
    pub materialized_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(value_type = crate::domain::FormData)]
    pub form_data: Map<String, Value>,
}

/// A course with its files.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseWithFiles {
    #[serde(flatten)]
    pub course: Course,
    pub files: Vec<CourseFile>,
}

/// An uploaded file's metadata.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseFile {
    pub id: Uuid,
    pub course_id: Uuid,
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
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseRef {
    pub course_id: Uuid,
    pub course_slug: String,
    /// `draft` or `submitted`.
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_read_well_for_non_latin_topics() {
        let id = Uuid::nil();
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
        let draft = Uuid::new_v4();
        assert_eq!(course_id_for(draft), course_id_for(draft));
        assert_ne!(course_id_for(draft), course_id_for(Uuid::new_v4()));
    }
}
