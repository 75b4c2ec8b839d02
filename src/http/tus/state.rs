//! An upload's state in an answer (HEAD's 200, PATCH's 204): the headers
//! [`with_state`] writes, and the same headers as the document lists them.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpResponse, HttpResponseBuilder};
use chrono::{DateTime, Utc};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoResponses, PartialSchema};

use super::{FILE_ID, FILE_LOCATION};
use crate::app::courses::TusState;

/// An HTTP date (RFC 7231 IMF-fixdate), as `Upload-Expires` is written.
pub(super) fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The headers every answer about an upload carries.
pub(super) fn with_state(mut response: HttpResponseBuilder, state: &TusState) -> HttpResponse {
    response
        .insert_header(("upload-offset", state.offset.to_string()))
        .insert_header(("upload-expires", http_date(state.expires_at)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(file_id) = state.file_id {
        response.insert_header((HeaderName::from_static(FILE_ID), file_id.to_string()));
        response.insert_header((
            HeaderName::from_static(FILE_LOCATION),
            format!("/api/v1/courses/{}/files/{file_id}", state.course_id),
        ));
    }
    response.finish()
}

/// HEAD's answer: where the upload is, and its size.
pub struct UploadOffset;

impl IntoResponses for UploadOffset {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let answer = with_state_headers("The upload's offset", "Bytes stored")
            .header("Upload-Length", described::<u64>("The file's size"));
        BTreeMap::from([("200".to_owned(), answer.build().into())])
    }
}

/// PATCH's answer: the bytes are stored.
pub struct Stored;

impl IntoResponses for Stored {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let answer = with_state_headers("Stored", "Bytes stored now");
        BTreeMap::from([("204".to_owned(), answer.build().into())])
    }
}

/// An answer with the headers of [`with_state`].
fn with_state_headers(description: &str, offset: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .header("Upload-Offset", described::<u64>(offset))
        .header(
            "Upload-Expires",
            described::<String>(
                "When it expires unless a PATCH stores bytes: the earlier of the draft's expiry \
                 and DRAFTD_TUS_IDLE_SECS after its last stored byte",
            ),
        )
        .header(
            "Draftd-File-Id",
            once_finished("Once finished: the file's id"),
        )
        .header(
            "Draftd-File-Location",
            once_finished("Once finished: where to download the file"),
        )
}

fn described<T: PartialSchema>(description: &str) -> Header {
    header(T::schema(), description)
}

/// A header sent only once the upload is finished.
fn once_finished(description: &str) -> Header {
    let string_or_null = SchemaType::from_iter([Type::String, Type::Null]);
    header(
        ObjectBuilder::new().schema_type(string_or_null),
        description,
    )
}

fn header(schema: impl Into<RefOr<Schema>>, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build()
}
