//! Resumable uploads, tus 1.0.0 (core, creation, termination, expiration):
//! parse the protocol's headers, call the use case, answer with its headers.
//! Every response of these routes carries `Tus-Resumable` (see `routes`).

mod state;
mod upload_path;

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};

use super::problem::{
    ApiError, AuthenticatedErrors, BodyErrors, DraftWriteErrors, NotLoopbackResponse,
    ProblemResponse, UploadWriteErrors,
};
use super::timed_body::TimedBody;
use super::AppState;
use crate::domain::ids::DraftId;
use crate::domain::tus::{parse_size, TusError, TusMetadata, TUS_EXTENSIONS, TUS_VERSION};
use crate::domain::{Backend, Owner, StoreError};
use state::{http_date, with_state, Stored, UploadOffset};
use upload_path::UploadPath;

/// The media type of a PATCH's body.
const OFFSET_STREAM: &str = "application/offset+octet-stream";
/// The file a finished upload became: its id, and where to download it.
pub const FILE_ID: &str = "draftd-file-id";
pub const FILE_LOCATION: &str = "draftd-file-location";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Every request but OPTIONS names the protocol version; only 1.0.0 is spoken.
fn require_version(req: &HttpRequest) -> Result<(), ApiError> {
    match header(req.headers(), "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError::TusVersion),
    }
}

/// A request that names tus 1.0.0 (412 otherwise), for a handler that
/// checks nothing before it.
pub struct Resumable;

impl FromRequest for Resumable {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require_version(req).map(|()| Resumable))
    }
}

/// What the server speaks: version, extensions, largest upload. Needs no
/// token (a browser's preflight carries none) and names no draft.
#[utoipa::path(options, path = "/api/v1/drafts/{id}/uploads", tag = "uploads",
    operation_id = "upload_options",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses((status = 204, description = "The tus protocol this server speaks", headers(
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,termination,expiration"),
        ("Tus-Max-Size" = u64, description = "Largest upload, DRAFTD_MAX_UPLOAD_BYTES"),
    )),
    (status = 403, response = NotLoopbackResponse)),
    security())]
pub async fn options(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("tus-version", TUS_VERSION))
        .insert_header(("tus-extension", TUS_EXTENSIONS))
        .insert_header(("tus-max-size", state.max_upload_bytes.to_string()))
        .finish()
}

/// Creates a resumable upload (tus creation). `Upload-Length` is required
/// (`Upload-Defer-Length` is not supported); `Upload-Metadata` gives
/// `filename` and `filetype` (base64). The rules of a multipart upload apply
/// here, before any byte: the type, the name's extension, the size; the size
/// and one file are reserved against the quotas until it finishes or expires.
/// One user may hold `DRAFTD_RESERVED_BYTES_PER_USER` reserved and not yet
/// sent: past it, a 409 `quota-exceeded` naming it. An upload storing nothing
/// for `DRAFTD_TUS_IDLE_SECS` expires, releasing its reservation.
#[utoipa::path(post, path = "/api/v1/drafts/{id}/uploads", tag = "uploads",
    operation_id = "create_upload",
    params(
        ("id" = Uuid, Path, description = "Draft id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "The file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "`filename <base64>,filetype <base64>`"),
    ),
    responses(
        (status = 201, description = "Created", headers(
            ("Location" = String, description = "The upload's URL"),
            ("Upload-Expires" = String, description = "When it expires unless a PATCH stores bytes: the earlier of the draft's expiry and DRAFTD_TUS_IDLE_SECS after its last stored byte"),
            ("Tus-Resumable" = String, description = "1.0.0"),
        )),
        DraftWriteErrors,
        (status = 412, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    require_version(&req)?;
    let headers = req.headers();
    if headers.contains_key("upload-defer-length") {
        return Err(TusError::DeferLength.into());
    }
    let length = header(headers, "upload-length")
        .ok_or(TusError::BadHeader("send Upload-Length, the file's size"))
        .and_then(|v| parse_size(v, "Upload-Length must be a number of bytes"))?;
    let metadata = TusMetadata::parse(header(headers, "upload-metadata").unwrap_or_default())?;
    let upload = state
        .app
        .courses
        .tus_create(owner, *id, length, &metadata)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/drafts/{}/uploads/{}", *id, upload.id),
        ))
        .insert_header(("upload-expires", http_date(upload.expires_at)))
        .finish())
}

/// Where an upload is (tus core): `Upload-Offset`, `Upload-Length`,
/// `Upload-Expires`; a finished one also names the file it became.
#[utoipa::path(head, path = "/api/v1/drafts/{id}/uploads/{upload_id}", tag = "uploads",
    operation_id = "upload_offset",
    params(UploadPath),
    responses(
        UploadOffset,
        (status = 404, description = "No such upload, or not yours, or expired"),
        (status = 410, description = "The draft was discarded (its owner is told for the draft TTL), or its course deleted"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn head(
    state: web::Data<AppState>,
    owner: Owner,
    path: UploadPath,
    _: Resumable,
) -> Result<HttpResponse, ApiError> {
    let upload = state
        .app
        .courses
        .tus_state(owner, path.draft_id, path.upload_id)
        .await?;
    let mut response = HttpResponse::Ok();
    response.insert_header(("upload-length", upload.length.to_string()));
    Ok(with_state(response, &upload))
}

/// Appends bytes at `Upload-Offset` (tus core), which must be the upload's
/// offset (409 otherwise). A body cut off, or a connection closed, keeps
/// every byte that arrived: HEAD reports it once it is durable. The last
/// byte makes the file, as a multipart upload does, and the answer names it.
/// One that stores bytes moves the upload's expiry (`DRAFTD_TUS_IDLE_SECS`
/// after them, within the draft's TTL, which it refreshes). A PATCH storing less
/// than `DRAFTD_TUS_FREE_BYTES` (1 MiB) without finishing the upload, and a
/// refused one, counts against the write rate; once it is spent, a PATCH is
/// a 429 before it stores any byte: clients sending chunks under 1 MiB are
/// rate-limited.
#[utoipa::path(patch, path = "/api/v1/drafts/{id}/uploads/{upload_id}", tag = "uploads",
    operation_id = "append_upload",
    params(
        UploadPath,
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the upload's offset"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        Stored,
        UploadWriteErrors,
        BodyErrors,
    ),
    security(("bearer" = [])))]
pub async fn patch(
    state: web::Data<AppState>,
    owner: Owner,
    path: UploadPath,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let offset = match patch_offset(&req) {
        Ok(offset) => offset,
        Err(refused) => {
            // A refused PATCH counts against the write rate too.
            state.app.courses.tus_refused(owner).await?;
            return Err(refused);
        }
    };
    let UploadPath {
        draft_id,
        upload_id,
    } = path;
    let (body, stalled) = TimedBody::new(payload, state.body_timeouts);
    // The append runs in a task of its own (on this worker's thread: the
    // body is not Send). A client that disconnects makes actix drop this
    // handler, not the append: its body ends with an error, and the task
    // stores and records what arrived before it (durable before HEAD reports
    // it, as tusd does), then gives the upload's lease back.
    let courses = state.app.courses.clone();
    let appending = actix_web::rt::spawn(async move {
        courses
            .tus_append(owner, draft_id, upload_id, offset, body)
            .await
    });
    let appended = match appending.await {
        Ok(appended) => appended,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::failed(
            Backend::Files,
            "the append was stopped: the service is shutting down",
        )
        .into()),
    };
    let upload = appended.map_err(|e| match stalled.get() {
        true => ApiError::BodyTimeout,
        false => e.into(),
    })?;
    Ok(with_state(HttpResponse::NoContent(), &upload))
}

/// Where a PATCH's bytes go, if its headers are in order.
fn patch_offset(req: &HttpRequest) -> Result<u64, ApiError> {
    require_version(req)?;
    if req.content_type() != OFFSET_STREAM {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the bytes as {OFFSET_STREAM}"
        )));
    }
    Ok(header(req.headers(), "upload-offset")
        .ok_or(TusError::BadHeader("send Upload-Offset"))
        .and_then(|v| parse_size(v, "Upload-Offset must be a number of bytes"))?)
}

/// Terminates an unfinished upload (tus termination): its bytes and its
/// reservation go. A finished one is a file now: 409, delete the file.
#[utoipa::path(delete, path = "/api/v1/drafts/{id}/uploads/{upload_id}", tag = "uploads",
    operation_id = "terminate_upload",
    params(UploadPath),
    responses(
        (status = 204, description = "Terminated"),
        UploadWriteErrors,
    ),
    security(("bearer" = [])))]
pub async fn terminate(
    state: web::Data<AppState>,
    owner: Owner,
    path: UploadPath,
    _: Resumable,
) -> Result<HttpResponse, ApiError> {
    state
        .app
        .courses
        .tus_terminate(owner, path.draft_id, path.upload_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `Tus-Resumable: 1.0.0`, for every response of the tus routes.
pub fn resumable_header() -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static("tus-resumable"),
        HeaderValue::from_static(TUS_VERSION),
    )
}

/// The header a client sends, on a POST, to have it taken as another method
/// (tus 1.0.0 core: for environments that cannot send PATCH or DELETE).
pub const METHOD_OVERRIDE: &str = "x-http-method-override";

/// Whether a request carries `X-HTTP-Method-Override: <method>`.
pub fn overrides_to(method: &'static str) -> impl actix_web::guard::Guard {
    actix_web::guard::fn_guard(move |ctx| {
        ctx.head()
            .headers()
            .get(METHOD_OVERRIDE)
            .is_some_and(|value| value.as_bytes() == method.as_bytes())
    })
}

/// A POST whose `X-HTTP-Method-Override` names neither PATCH nor DELETE (on
/// an upload) is refused: it is never run as a POST. A POST overriding to
/// PATCH or DELETE is routed to [`patch`] or [`terminate`] and answers as they
/// do; this operation documents it.
#[utoipa::path(post, path = "/api/v1/drafts/{id}/uploads/{upload_id}", tag = "uploads",
    operation_id = "override_upload_method",
    params(
        UploadPath,
        ("X-HTTP-Method-Override" = String, Header, description = "`PATCH` or `DELETE`: the request is that method (tus 1.0.0), with its headers and body; anything else is a 400, and a POST without it a 405"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "As PATCH (stored; with Upload-Offset, Upload-Expires) or DELETE (terminated)"),
        UploadWriteErrors,
        (status = 405, response = ProblemResponse),
        BodyErrors,
    ),
    security(("bearer" = [])))]
pub async fn refuse_override() -> Result<HttpResponse, ApiError> {
    Err(ApiError::BadRequest(
        "X-HTTP-Method-Override may name PATCH or DELETE only, on an upload",
    ))
}
