//! A draft's Redis hash, read back into a [`Draft`]: the hash fields are
//! listed in [`super::drafts`].

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::{Backend, Draft, DraftStatus, DraftStore, StoreError};

pub(super) fn unexpected(reply: &[String]) -> StoreError {
    corrupt(format!("unexpected script reply {:?}", reply.first()))
}

pub(super) fn corrupt(detail: String) -> StoreError {
    StoreError::corrupt(Backend::Redis, detail)
}

/// Reads a draft from its hash, given as alternating field names and values.
pub(super) fn decode(id: Uuid, hash: &[String]) -> Result<Draft, StoreError> {
    let mut organization_id = None;
    let mut version = None;
    let mut status = None;
    let (mut created_at, mut updated_at, mut expires_at) = (None, None, None);
    let (mut course_id, mut course_slug) = (None, None);
    let mut course_trashed = false;
    let mut form_data = Map::new();
    for pair in hash.chunks_exact(2) {
        let (name, value) = (pair[0].as_str(), pair[1].as_str());
        match name {
            "org" => organization_id = value.parse().ok(),
            "v" => version = value.parse().ok(),
            "st" => status = value.parse::<DraftStatus>().ok(),
            "ca" => created_at = timestamp(value),
            "ua" => updated_at = timestamp(value),
            "ea" => expires_at = timestamp(value),
            "cid" => course_id = value.parse().ok(),
            "cslug" => course_slug = Some(value.to_owned()),
            "tr" => course_trashed = true,
            _ => {
                if let Some(field) = name.strip_prefix("f:") {
                    let value: Value = serde_json::from_str(value)
                        .map_err(|e| corrupt(format!("form field {field}: {e}")))?;
                    form_data.insert(field.to_owned(), value);
                }
            }
        }
    }
    let missing = |what: &str| corrupt(format!("draft {id} has no valid {what}"));
    Ok(Draft {
        id,
        organization_id: organization_id.ok_or_else(|| missing("organization"))?,
        version: version.ok_or_else(|| missing("version"))?,
        status: status.ok_or_else(|| missing("status"))?,
        created_at: created_at.ok_or_else(|| missing("creation time"))?,
        updated_at: updated_at.ok_or_else(|| missing("update time"))?,
        expires_at: expires_at.ok_or_else(|| missing("expiry time"))?,
        course_id,
        course_slug,
        course_trashed,
        form_data,
        store: DraftStore::Redis,
    })
}

fn timestamp(millis: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis.parse().ok()?)
}
