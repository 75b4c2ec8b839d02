//! Reading rows into the domain's types: the column lists and their parsers,
//! one of each per table.

use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::domain::content::SavedCheck;
use crate::domain::tus::{TusBytes, TusPart, TusUpload};
use crate::domain::{Backend, Course, CourseFile, StoreError};

pub(super) const COURSE_COLUMNS: &str = "id, draft_session_id, organization_id, slug, title, \
    status, generation_status, materialized_by, materialized_at, submitted_at, created_at, \
    updated_at, trashed_at, purge_at, form_data";

pub(super) const FILE_COLUMNS: &str =
    "id, course_id, storage_key, original_name, content_type, size_bytes, sha256, created_at";

/// `Type { a, b, … }` read from `row`'s columns of the same names, then the
/// fields that need more than `try_get` (`; name: expression, …`, or a
/// local's `name`).
macro_rules! from_row {
    ($row:expr, $type:ident { $($column:ident),* $(,)? }
        $(; $($field:ident $(: $value:expr)?),* $(,)?)?) => {
        $type {
            $($column: $row.try_get(stringify!($column))?,)*
            $($($field $(: $value)?,)*)?
        }
    };
}
pub(super) use from_row;

/// A text column holding one of an enum's values.
pub(super) fn parsed<T: std::str::FromStr<Err = crate::domain::UnknownValue>>(
    row: &Row,
    column: &str,
) -> Result<T, StoreError> {
    row.try_get::<_, &str>(column)?
        .parse()
        .map_err(|e: crate::domain::UnknownValue| {
            StoreError::corrupt(Backend::Postgres, e.to_string())
        })
}

/// A nullable text column holding one of an enum's values.
pub(super) fn parsed_opt<T: std::str::FromStr<Err = crate::domain::UnknownValue>>(
    row: &Row,
    column: &str,
) -> Result<Option<T>, StoreError> {
    row.try_get::<_, Option<&str>>(column)?
        .map(|value| {
            value.parse().map_err(|e: crate::domain::UnknownValue| {
                StoreError::corrupt(Backend::Postgres, e.to_string())
            })
        })
        .transpose()
}

pub(super) fn course_from(row: &Row) -> Result<Course, StoreError> {
    let form_data = match row.try_get::<_, Value>("form_data")? {
        Value::Object(map) => map,
        other => {
            return Err(StoreError::corrupt(
                Backend::Postgres,
                format!("form_data is not an object: {other}"),
            ))
        }
    };
    let materialized_by: Option<&str> = row.try_get("materialized_by")?;
    Ok(from_row!(row, Course {
        id, draft_session_id, organization_id, slug, title, generation_status, materialized_at,
        submitted_at, created_at, updated_at, trashed_at, purge_at,
    }; status: parsed(row, "status")?,
        materialized_by: materialized_by.and_then(|by| by.parse().ok()),
        form_data))
}

pub(super) fn file_from(row: &Row) -> Result<CourseFile, StoreError> {
    Ok(from_row!(
        row,
        CourseFile {
            id,
            course_id,
            storage_key,
            original_name,
            content_type,
            size_bytes,
            sha256,
            created_at,
        }
    ))
}

pub(super) const TUS_COLUMNS: &str =
    "id, draft_session_id, owner_id, organization_id, course_id, file_id, \
    storage_key, original_name, content_type, upload_length, upload_offset, status, \
    sha256_state, content_check, staging_path, s3_upload_id, s3_parts, tail_key, tail_bytes, \
    expires_at";

fn size(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::corrupt(Backend::Postgres, e.to_string()))
}

pub(super) fn tus_upload_from(row: &Row) -> Result<TusUpload, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::corrupt(Backend::Postgres, e.to_string());
    let bytes = match row.try_get::<_, Option<String>>("staging_path")? {
        Some(staging_path) => TusBytes::Local { staging_path },
        None => TusBytes::S3 {
            upload_id: row.try_get("s3_upload_id")?,
            parts: serde_json::from_value::<Vec<TusPart>>(row.try_get("s3_parts")?)
                .map_err(corrupt)?,
            tail_key: row
                .try_get::<_, Option<String>>("tail_key")?
                .unwrap_or_default(),
            tail_bytes: size(row.try_get("tail_bytes")?),
        },
    };
    Ok(from_row!(row, TusUpload {
        id, draft_session_id, owner_id, organization_id, course_id, file_id, storage_key,
        original_name, content_type, expires_at,
    }; length: size(row.try_get("upload_length")?),
        offset: size(row.try_get("upload_offset")?),
        status: parsed(row, "status")?,
        hash: row.try_get("sha256_state")?,
        check: serde_json::from_value(row.try_get("content_check")?).map_err(corrupt)?,
        bytes))
}

/// An upload's progress as statement parameters, for the columns
/// `sha256_state, content_check, staging_path, s3_upload_id, s3_parts,
/// tail_key, tail_bytes`, in that order.
pub(super) struct ProgressColumns<'a> {
    hash: &'a [u8],
    check: Value,
    staging_path: Option<String>,
    upload_id: Option<String>,
    parts: Value,
    tail_key: Option<String>,
    tail_bytes: i64,
}

impl<'a> ProgressColumns<'a> {
    pub(super) fn of(
        hash: &'a [u8],
        check: &SavedCheck,
        bytes: &TusBytes,
    ) -> Result<Self, StoreError> {
        let (staging_path, upload_id, parts, tail_key, tail_bytes) = match bytes {
            TusBytes::Local { staging_path } => (
                Some(staging_path.clone()),
                None,
                Value::Array(vec![]),
                None,
                0,
            ),
            TusBytes::S3 {
                upload_id,
                parts,
                tail_key,
                tail_bytes,
            } => (
                None,
                upload_id.clone(),
                json(parts)?,
                Some(tail_key.clone()),
                i64::try_from(*tail_bytes).unwrap_or(i64::MAX),
            ),
        };
        Ok(Self {
            hash,
            check: json(check)?,
            staging_path,
            upload_id,
            parts,
            tail_key,
            tail_bytes,
        })
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.hash,
            &self.check,
            &self.staging_path,
            &self.upload_id,
            &self.parts,
            &self.tail_key,
            &self.tail_bytes,
        ]
    }
}
