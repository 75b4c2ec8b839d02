//! A draft's record: the one Redis string at its key
//! ([`super::keys::draft_key`]), read back into a [`Draft`]. Only the Lua
//! scripts write it, through the record helpers of `lua/lib.lua`.
//!
//! Lines separated by `\n`:
//! - The header: ten fields separated by single spaces,
//!   `org v st ca ua ea tr cid cslug ix`: organization id, version, status,
//!   created/updated/expires (Unix ms from the Redis clock), `tr` `1` if the
//!   draft's course is in the trash else `0`, the course's id and slug, each
//!   `-` while there is none, and the score (Unix ms) of the draft's entry in
//!   its owner's index as the scripts last wrote it, `-` when they do not
//!   know it: an autosave then reads no index (`lua/lib.lua`, `keep_alive`).
//!   A record written before `ix` was added has the first nine alone, and
//!   reads the same. No field can hold a space or a newline, nor be
//!   empty: ids, numbers and status words are plain tokens, and a course slug
//!   comes from [`crate::domain::course::slug_candidates`], made of `a-z`,
//!   `0-9` and `-` and ending in the course id's hex, so never `-` alone.
//! - Then one line per form field, `<name>=<JSON text>`, in the order the
//!   fields were first set. Names are the form's own camelCase identifiers
//!   (no `=`: the first one ends the name); the value is compact serde_json
//!   text, which escapes every newline.
//!
//! One string rather than a hash: a hash whose value passes Redis's listpack
//! limit (`hash-max-listpack-value`, 64 bytes by default) becomes a hashtable,
//! and a typical form's description does; the string costs about half.

use chrono::{DateTime, Utc};
use deadpool_redis::redis::{Cmd, RedisError};
use serde_json::{Map, Value};

use super::reply;
use super::scripts::{invoke, Entry};
use super::RedisConn;
use crate::domain::ids::{CourseId, DraftId, OrgId};
use crate::domain::{Backend, Draft, DraftStore, StoreError};

/// The records at these keys, `None` where there is none: GETs, in one
/// pipeline on a single node. Should one be a draft still in the layout this
/// one replaced (a hash, which GET refuses with WRONGTYPE), all are read
/// again through `read`, the script `lua/read.lua`, which reads either
/// layout. Any other error is the caller's: a connection that failed the
/// GETs is not asked again.
pub(super) async fn read_records(
    conn: &mut RedisConn,
    keys: &[String],
    read: &Entry,
) -> Result<Vec<Option<String>>, StoreError> {
    let gets = keys.iter().map(Cmd::get).collect();
    match conn.each(gets).await {
        Err(error) if is_wrong_type(&error) => {
            let mut records = Vec::with_capacity(keys.len());
            for key in keys {
                records.push(reply::record(invoke(&read.key(key), conn).await?)?);
            }
            Ok(records)
        }
        answer => answer,
    }
}

/// Redis refused a command for its key's type (a pipeline's, for any of
/// its keys).
fn is_wrong_type(error: &StoreError) -> bool {
    let Some(redis) = error
        .cause()
        .and_then(|cause| cause.downcast_ref::<RedisError>())
    else {
        return false;
    };
    redis
        .clone()
        .into_server_errors()
        .is_some_and(|errors| errors.iter().any(|(_, error)| error.code() == "WRONGTYPE"))
}

pub(super) fn corrupt(detail: String) -> StoreError {
    StoreError::corrupt(Backend::Redis, detail)
}

/// Reads a draft from its record.
pub(super) fn decode(id: DraftId, record: &str) -> Result<Draft, StoreError> {
    let (header, fields) = record.split_once('\n').unwrap_or((record, ""));
    let [org, version, status, created, updated, expires, trashed, course_id, course_slug] =
        split_header(id, header)?;
    let invalid = |what: &str| corrupt(format!("draft {id} has no valid {what}"));
    let mut form_data = Map::new();
    for line in fields.split('\n').filter(|line| !line.is_empty()) {
        let (name, json) = line
            .split_once('=')
            .ok_or_else(|| invalid("form field line"))?;
        let value: Value = serde_json::from_str(json)
            .map_err(|e| corrupt(format!("draft {id}, form field {name}: {e}")))?;
        form_data.insert(name.to_owned(), value);
    }
    Ok(Draft {
        id,
        organization_id: org.parse().map_err(|_| invalid("organization"))?,
        version: version.parse().map_err(|_| invalid("version"))?,
        status: status.parse().map_err(|_| invalid("status"))?,
        created_at: timestamp(created).ok_or_else(|| invalid("creation time"))?,
        updated_at: timestamp(updated).ok_or_else(|| invalid("update time"))?,
        expires_at: timestamp(expires).ok_or_else(|| invalid("expiry time"))?,
        course_id: course(id, course_id)?,
        course_slug: (course_slug != "-").then(|| course_slug.to_owned()),
        course_trashed: match trashed {
            "1" => true,
            "0" => false,
            _ => return Err(invalid("trash mark")),
        },
        form_data,
        store: DraftStore::Redis,
    })
}

/// The organization a draft belongs to, from its record's header; `None` if
/// the header does not tell. For the jobs that scan every draft: one
/// malformed draft must not stop them (it is nobody's).
pub(super) fn organization_of(id: DraftId, record: &str) -> Option<OrgId> {
    let [org, ..] = split_header(id, first_line(record)).ok()?;
    org.parse().ok()
}

/// The course a draft became, if any, from its record's header; `None` too if
/// the header does not tell (see [`organization_of`]).
pub(super) fn course_of(id: DraftId, record: &str) -> Option<CourseId> {
    let [.., course_id, _] = split_header(id, first_line(record)).ok()?;
    course(id, course_id).ok()?
}

fn first_line(record: &str) -> &str {
    record.split('\n').next().unwrap_or_default()
}

/// The header line's first nine fields, each non-empty; `ix`, the tenth,
/// is the scripts' alone, and may be absent (a record written before it).
fn split_header(id: DraftId, header: &str) -> Result<[&str; 9], StoreError> {
    let mut parts = header.split(' ');
    let fields: [&str; 9] = std::array::from_fn(|_| parts.next().unwrap_or_default());
    let index_score = parts.next();
    if parts.next().is_some()
        || index_score == Some("")
        || fields.iter().any(|field| field.is_empty())
    {
        return Err(corrupt(format!("draft {id} has a malformed header")));
    }
    Ok(fields)
}

fn course(id: DraftId, field: &str) -> Result<Option<CourseId>, StoreError> {
    if field == "-" {
        return Ok(None);
    }
    field
        .parse()
        .map(Some)
        .map_err(|_| corrupt(format!("draft {id} has no valid course id")))
}

fn timestamp(millis: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::domain::DraftStatus;

    use super::*;

    const ORG: &str = "5f0c3c1e-8a4b-4c4e-9b1a-0d6a3c2e1f00";
    const COURSE: &str = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";

    /// A record as `lua/lib.lua` writes it: the header, then a line per
    /// field with its value as compact serde_json text.
    fn record(header: &str, form: &[(&str, Value)]) -> String {
        let mut record = header.to_owned();
        for (name, value) in form {
            record.push_str(&format!("\n{name}={value}"));
        }
        record
    }

    fn header(trashed: &str, course: &str, slug: &str) -> String {
        format!("{ORG} 7 materialized 1700000000000 1700000001000 1700086401000 {trashed} {course} {slug} 1700086461000")
    }

    #[test]
    fn a_header_without_the_index_score_reads_the_same() {
        let id = DraftId::new();
        let form = [("topic", json!("Kept"))];
        let with = record(&header("0", COURSE, "kept-9a1b2c3d"), &form);
        let without = with.replacen(" 1700086461000", "", 1);
        assert_eq!(without.lines().next().unwrap().split(' ').count(), 9);
        let read = |text: &str| serde_json::to_value(decode(id, text).unwrap()).unwrap();
        assert_eq!(read(&without), read(&with));
        assert_eq!(organization_of(id, &without), organization_of(id, &with));
        assert_eq!(course_of(id, &without), course_of(id, &with));
    }

    #[test]
    fn tricky_values_read_back_as_written() {
        let form = [
            (
                "topic",
                json!("Основы Rust: «кавычки» \"quoted\" \\ back\\slash 🦀"),
            ),
            (
                "description",
                json!("a = b\nnext line\r\tand  two spaces\\n = not a newline"),
            ),
            ("language", json!("pt-BR")),
            ("estimatedLessons", json!(12)),
            ("formats", json!([])),
            ("targetAudience", json!("=")),
            ("learningOutcomes", json!({})),
            ("writingStyle", json!("")),
        ];
        let text = record(&header("0", COURSE, "osnovy-rust-9a1b2c3d"), &form);
        assert_eq!(text.lines().count(), 1 + form.len(), "one line per field");

        let id = DraftId::new();
        let draft = decode(id, &text).unwrap();
        let expected: Map<String, Value> = form
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        assert_eq!(draft.form_data, expected);
        assert_eq!(draft.id, id);
        assert_eq!(draft.organization_id.to_string(), ORG);
        assert_eq!(draft.version, 7);
        assert_eq!(draft.status, DraftStatus::Materialized);
        assert_eq!(draft.created_at.timestamp_millis(), 1_700_000_000_000);
        assert_eq!(draft.updated_at.timestamp_millis(), 1_700_000_001_000);
        assert_eq!(draft.expires_at.timestamp_millis(), 1_700_086_401_000);
        assert_eq!(
            draft.course_id.map(|c| c.to_string()).as_deref(),
            Some(COURSE)
        );
        assert_eq!(draft.course_slug.as_deref(), Some("osnovy-rust-9a1b2c3d"));
        assert!(!draft.course_trashed);
        assert_eq!(
            organization_of(id, &text).map(|o| o.to_string()).as_deref(),
            Some(ORG)
        );
        assert_eq!(course_of(id, &text), draft.course_id);
    }

    #[test]
    fn a_removed_field_and_an_absent_course_read_back_as_absent() {
        let with = record(
            &header("1", "-", "-"),
            &[("topic", json!("Kept")), ("language", json!("en"))],
        );
        let without = record(&header("1", "-", "-"), &[("topic", json!("Kept"))]);
        let id = DraftId::new();
        assert!(decode(id, &with)
            .unwrap()
            .form_data
            .contains_key("language"));
        let draft = decode(id, &without).unwrap();
        assert_eq!(
            draft.form_data,
            Map::from_iter([("topic".to_owned(), json!("Kept"))])
        );
        assert_eq!((draft.course_id, draft.course_slug), (None, None));
        assert!(draft.course_trashed);
        assert_eq!(course_of(id, &without), None);
    }

    #[test]
    fn an_empty_form_is_the_header_alone() {
        let draft = decode(DraftId::new(), &header("0", "-", "-")).unwrap();
        assert!(draft.form_data.is_empty());
    }

    #[test]
    fn a_malformed_record_is_an_error_not_a_panic() {
        let id = DraftId::new();
        let good = header("0", "-", "-");
        let broken = [
            String::new(),
            "garbage".to_owned(),
            good.replacen(' ', "  ", 1),
            format!("{good} extra"),
            format!("{good} "),
            good.replace(" 7 ", " seven "),
            good.replace(" 0 ", " 2 "),
            good.replacen(" - ", " not-a-uuid ", 1),
            format!("{good}\nno-equals-sign"),
            format!("{good}\ntopic=not json"),
        ];
        for text in broken {
            assert!(decode(id, &text).is_err(), "{text:?}");
        }
        assert_eq!(organization_of(id, "x 1 open 1 1 1 0 - -"), None);
        assert_eq!(
            organization_of(id, "- 0 - 0 0 0 0 - -"),
            None,
            "a legacy placeholder"
        );
    }
}
