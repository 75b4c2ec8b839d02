//! Making drafts real (materialize, submit, upload) and reading courses and
//! their files: parse, call the domain, map the result.

use actix_multipart::Multipart;
use actix_web::http::header::{
    self, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::TryStreamExt;
use utoipa::ToSchema;

use super::admin::DryRun;
use super::problem::{
    ApiError, AuthenticatedErrors, BodyErrors, DraftWriteErrors, GoneErrors, ProblemResponse,
};
use super::query::Query;
use super::schemas;
use super::timed_body::TimedBody;
use super::AppState;
use crate::domain::ids::{CourseId, DraftId, FileId};
use crate::domain::upload::UploadError;
use crate::domain::Owner;

/// Room for multipart boundaries and part headers around the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

fn created_or_ok(created: bool) -> actix_web::HttpResponseBuilder {
    if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
}

/// Make sure the draft has a course row (idempotent).
#[utoipa::path(post, path = "/api/v1/drafts/{id}/materialize", tag = "courses",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 201, description = "The course row was created now", body = schemas::CourseRef),
        (status = 200, description = "The draft already had its course", body = schemas::CourseRef),
        GoneErrors,
        (status = 409, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn materialize(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
) -> Result<HttpResponse, ApiError> {
    let (course, created) = state.app.courses.materialize(owner, *id).await?;
    Ok(created_or_ok(created).json(course))
}

/// Validate the form strictly, then make the course and mark it submitted.
/// The draft becomes read-only; repeating the call returns the same course.
/// With `?dryRun=true` only the check runs: 204 or the same 422, nothing changes.
#[utoipa::path(post, path = "/api/v1/drafts/{id}/submit", tag = "courses",
    params(("id" = Uuid, Path, description = "Draft id"), DryRun),
    responses(
        (status = 201, description = "Submitted; the course row was created now", body = schemas::CourseRef),
        (status = 204, description = "Dry run: a submit now would pass the check"),
        (status = 200, description = "Submitted into the draft's existing course", body = schemas::CourseRef),
        DraftWriteErrors,
        (status = 422, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn submit(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
    query: Query<DryRun>,
) -> Result<HttpResponse, ApiError> {
    if query.dry_run {
        state.app.courses.check_submit(owner, *id).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let (course, created) = state.app.courses.submit(owner, *id).await?;
    Ok(created_or_ok(created).json(course))
}

/// A multipart upload: one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)] // describes the wire format for the OpenAPI document
pub struct FileUpload {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a file to the draft's course; the first file creates the course row.
/// The file is streamed to storage, never held in memory.
///
/// The file's name, declared type and content must agree, or the answer is a
/// 415 whose detail names the declared and the detected type: a PDF is `.pdf`
/// and begins with `%PDF-`; a DOCX (PPTX) is `.docx` (`.pptx`) and a ZIP
/// package with `[Content_Types].xml` and parts under `word/` (`ppt/`);
/// `text/plain` (`.txt`, `.text`) and `text/markdown` (`.md`, `.markdown`) are
/// UTF-8 without NUL to the last byte. A missing or `application/octet-stream`
/// type is taken from the extension. Other accepted types are checked where a
/// detector exists. A name with control or invisible formatting characters
/// (bidi controls, zero-width characters) is a 422.
#[utoipa::path(post, path = "/api/v1/drafts/{id}/files", tag = "courses",
    params(("id" = Uuid, Path, description = "Draft id")),
    request_body(content = FileUpload, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = schemas::CourseFile,
         headers(("Location" = String, description = "Where to download it"))),
        DraftWriteErrors,
        BodyErrors,
        (status = 422, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.max_upload_bytes;
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit.saturating_add(MULTIPART_OVERHEAD)) {
        return Err(UploadError::TooLarge { limit }.into());
    }
    if req.content_type() != "multipart/form-data" {
        return Err(ApiError::UnsupportedMediaType(
            "send the file as multipart/form-data".into(),
        ));
    }
    let (payload, stalled) = TimedBody::new(payload, state.body_timeouts);
    let mut parts = Multipart::new(req.headers(), payload);
    let malformed = |e: actix_multipart::MultipartError| match stalled.get() {
        true => ApiError::BodyTimeout,
        false => ApiError::MalformedBody(format!("the multipart body is malformed: {e}")),
    };
    // Parts other than the file are read and dropped, together no larger
    // than a JSON body may be.
    let mut other_bytes = 0usize;
    while let Some(mut part) = parts.try_next().await.map_err(malformed)? {
        if part.name() != Some("file") {
            while let Some(chunk) = part.try_next().await.map_err(malformed)? {
                other_bytes = other_bytes.saturating_add(chunk.len());
                if other_bytes > state.max_body_bytes {
                    return Err(ApiError::PayloadTooLarge {
                        limit: state.max_body_bytes as u64,
                    });
                }
            }
            continue;
        }
        let name = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .unwrap_or_default()
            .to_owned();
        let declared_type = part.content_type().map(|m| m.essence_str().to_owned());
        let uploaded = state
            .app
            .courses
            .upload(owner, *id, &name, declared_type.as_deref(), part)
            .await
            .map_err(|e| match stalled.get() {
                true => ApiError::BodyTimeout,
                false => e.into(),
            })?;
        let file = uploaded.file;
        return Ok(HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/courses/{}/files/{}", file.course_id, file.id),
            ))
            .json(file));
    }
    Err(UploadError::MissingFile.into())
}

/// The files of the draft's course (none before it has one).
#[utoipa::path(get, path = "/api/v1/drafts/{id}/files", tag = "courses",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 200, description = "Files, oldest first", body = Vec<schemas::CourseFile>),
        GoneErrors,
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn draft_files(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
) -> Result<HttpResponse, ApiError> {
    let files = state.app.courses.draft_files(owner, *id).await?;
    Ok(HttpResponse::Ok().json(files))
}

/// Remove one file of the draft's course.
#[utoipa::path(delete, path = "/api/v1/drafts/{id}/files/{file_id}", tag = "courses",
    params(
        ("id" = Uuid, Path, description = "Draft id"),
        ("file_id" = Uuid, Path, description = "File id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        DraftWriteErrors,
    ),
    security(("bearer" = [])))]
pub async fn delete_draft_file(
    state: web::Data<AppState>,
    owner: Owner,
    path: web::Path<(DraftId, FileId)>,
) -> Result<HttpResponse, ApiError> {
    let (draft_id, file_id) = path.into_inner();
    state
        .app
        .courses
        .delete_draft_file(owner, draft_id, file_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's course with its files.
#[utoipa::path(get, path = "/api/v1/courses/{id}", tag = "courses",
    params(("id" = Uuid, Path, description = "Course id")),
    responses(
        (status = 200, description = "The course", body = schemas::CourseWithFiles),
        (status = 404, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn course(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<CourseId>,
) -> Result<HttpResponse, ApiError> {
    let course = state.app.courses.course(owner, *id).await?;
    Ok(HttpResponse::Ok().json(course))
}

/// Download a file of the caller's course, as an attachment.
#[utoipa::path(get, path = "/api/v1/courses/{id}/files/{file_id}", tag = "courses",
    params(
        ("id" = Uuid, Path, description = "Course id"),
        ("file_id" = Uuid, Path, description = "File id"),
    ),
    responses(
        (status = 200, description = "The file's bytes, as the media type it was uploaded as", content_type = "*/*"),
        (status = 404, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn download(
    state: web::Data<AppState>,
    owner: Owner,
    path: web::Path<(CourseId, FileId)>,
) -> Result<HttpResponse, ApiError> {
    let (course_id, file_id) = path.into_inner();
    let (file, bytes) = state
        .app
        .courses
        .download(owner, course_id, file_id)
        .await?;
    // Always an attachment, never sniffed: an uploaded file must not run as a
    // page of this origin.
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii_fallback(&file.original_name)),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: file.original_name.clone().into_bytes(),
            }),
        ],
    };
    Ok(HttpResponse::Ok()
        .content_type(file.content_type.as_str())
        .insert_header(disposition)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(u64::try_from(file.size_bytes).unwrap_or_default())
        .streaming(bytes))
}

/// The name for clients that do not read `filename*`: ASCII, no quotes.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
