//! Draft-session endpoints: parse, call the domain, map the result.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::body::JsonObject;
use super::if_match;
use super::problem::{ApiError, ProblemResponse};
use super::schemas;
use super::AppState;
use crate::domain::{Draft, FieldErrors, FormData, FormPatch};

/// The body of a create or autosave request.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code)] // describes the wire format for the OpenAPI document
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftRequest {
    /// Create: the initial form. Autosave: a JSON Merge Patch (RFC 7396) of the
    /// form, where `null` removes a field and absent fields stay as they are.
    #[serde(default)]
    #[schema(value_type = schemas::FormData)]
    form_data: FormData,
}

/// The `formData` member of a request body, as a merge patch of the form.
fn form_patch(body: JsonObject) -> Result<FormPatch, ApiError> {
    let mut form = Map::new();
    let mut errors = FieldErrors::default();
    for (member, value) in body.0.unwrap_or_default() {
        match (member.as_str(), value) {
            ("formData", Value::Object(fields)) => form = fields,
            ("formData", _) => errors.add("formData", "must be an object"),
            _ => errors.add(member, "is not a member of a draft request; send formData"),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(FormPatch::parse(form)?)
}

fn etag(draft: &Draft) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{}\"", draft.version))
}

/// Open a new draft session.
///
/// The draft is kept in Redis. While Redis is unreachable it opens in
/// Postgres instead (degraded mode: `store` is `postgres`, and the draft stays
/// there for its whole life).
#[utoipa::path(post, path = "/api/v1/drafts", tag = "drafts",
    request_body(content = Option<DraftRequest>, description = "Optional: no body opens an empty draft"),
    responses(
        (status = 201, description = "Draft created", body = schemas::Draft,
         headers(("Location" = String), ("ETag" = String))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
        (status = 503, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let owner = caller.owner()?;
    let form = form_patch(body)?;
    let draft = state.app.drafts.create(owner, &form).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/drafts/{}", draft.id)))
        .insert_header(etag(&draft))
        .json(draft))
}

/// The caller's live drafts, in Redis and in Postgres, most recently written first.
#[utoipa::path(get, path = "/api/v1/drafts", tag = "drafts",
    responses(
        (status = 200, description = "Live drafts", body = Vec<schemas::Draft>),
        (status = 401, response = ProblemResponse),
        (status = 503, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let drafts = state.app.drafts.list(caller.user_id).await?;
    Ok(HttpResponse::Ok().json(drafts))
}

/// One draft.
#[utoipa::path(get, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The draft", body = schemas::Draft, headers(("ETag" = String))),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 503, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let draft = state.app.drafts.get(caller.user_id, *id).await?;
    Ok(HttpResponse::Ok().insert_header(etag(&draft)).json(draft))
}

/// Autosave: merge a patch into the form and refresh the draft's TTL.
#[utoipa::path(patch, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(
        ("id" = Uuid, Path, description = "Draft id"),
        ("If-Match" = Option<String>, Header, description = "`*`, or the ETags the client accepts (usually the one last seen); when the draft's is none of them: 412"),
    ),
    request_body(content = DraftRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Saved", body = schemas::Draft, headers(("ETag" = String))),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 412, response = ProblemResponse),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        (status = 503, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn autosave(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    if body.0.is_none() {
        return Err(ApiError::MalformedBody(
            "send a JSON merge patch of the form: {\"formData\": {...}}".into(),
        ));
    }
    let patch = form_patch(body)?;
    let draft = state
        .app
        .drafts
        .autosave(
            caller.user_id,
            *id,
            &patch,
            &if_match::precondition(req.headers()),
        )
        .await?;
    Ok(HttpResponse::Ok().insert_header(etag(&draft)).json(draft))
}

/// Discard a draft. A materialized, unsubmitted draft takes its course and
/// files with it.
#[utoipa::path(delete, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 204, description = "Discarded"),
        (status = 401, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 503, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn discard(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.app.courses.discard_draft(caller.user_id, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
