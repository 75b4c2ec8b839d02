//! Draft-session endpoints: parse, call the domain, map the result.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::body::JsonObject;
use super::if_match;
use super::paging::{PageBody, PageQuery};
use super::prefer;
use super::problem::{
    ApiError, AuthenticatedErrors, BodyErrors, DraftWriteErrors, GoneErrors, ProblemResponse,
};
use super::query::Query;
use super::schemas;
use super::AppState;
use crate::app::drafts::Created;
use crate::domain::draft::{Return, Saved};
use crate::domain::ids::DraftId;
use crate::domain::{Draft, FieldErrors, FormPatch, IdempotencyKey, Owner};

/// The body of a create or autosave request.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code)] // describes the wire format for the OpenAPI document
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DraftRequest {
    /// Create: the initial form. Autosave: a JSON Merge Patch (RFC 7396) of the
    /// form, where `null` removes a field and absent fields stay as they are.
    #[serde(default)]
    #[schema(value_type = schemas::FormData)]
    form_data: Map<String, Value>,
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

fn etag(version: u64) -> (header::HeaderName, String) {
    (header::ETAG, format!("\"{version}\""))
}

/// The request's `Idempotency-Key`, if it sent one: one field of 1 to 200
/// visible ASCII characters, else a 400.
fn idempotency_key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut fields = request.headers().get_all(IDEMPOTENCY_KEY);
    let (Some(field), None) = (fields.next(), fields.next()) else {
        return match request.headers().contains_key(IDEMPOTENCY_KEY) {
            true => Err(ApiError::BadRequest("send one Idempotency-Key")),
            false => Ok(None),
        };
    };
    IdempotencyKey::parse(field.as_bytes())
        .map(Some)
        .ok_or(ApiError::BadRequest(
            "an Idempotency-Key is 1 to 200 visible ASCII characters (a UUID will do)",
        ))
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Open a new draft session.
///
/// The draft is kept in Redis. While Redis is unreachable it opens in
/// Postgres instead (degraded mode: `store` is `postgres`, and the draft stays
/// there for its whole life).
///
/// With an `Idempotency-Key` (1 to 200 visible ASCII characters), the same
/// user in the same organization sending the same key within the draft TTL
/// gets the same draft back: 201 the first time, then 200 with the draft as
/// it is now (410 if its owner discarded it; a key whose draft expired opens
/// a new one). In degraded mode the key is not kept.
#[utoipa::path(post, path = "/api/v1/drafts", tag = "drafts",
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes the create safe to send again: the same key gets the same draft")),
    request_body(content = Option<DraftRequest>, description = "Optional: no body opens an empty draft"),
    responses(
        (status = 201, description = "Draft created", body = schemas::Draft,
         headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "The draft this Idempotency-Key opened before", body = schemas::Draft,
         headers(("Location" = String), ("ETag" = String))),
        (status = 410, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        BodyErrors,
        (status = 422, response = ProblemResponse),
        (status = 429, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    owner: Owner,
    request: HttpRequest,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let form = form_patch(body)?;
    let (mut answer, draft) = match state.app.drafts.create(owner, &form, key).await? {
        Created::New(draft) => (HttpResponse::Created(), draft),
        Created::Existing(draft) => (HttpResponse::Ok(), draft),
    };
    Ok(answer
        .insert_header((header::LOCATION, format!("/api/v1/drafts/{}", draft.id)))
        .insert_header(etag(draft.version))
        .json(draft))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `formData` to list whole drafts instead of summaries.
    include: Option<String>,
}

/// A draft in a list: its summary, and its form only when asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedDraft {
    #[serde(flatten)]
    draft: Draft,
    /// The form's topic, to name the draft by.
    topic: Option<String>,
}

/// The caller's live drafts, in Redis and in Postgres, most recently written
/// first, a page at a time: summaries (the form's topic, no form) unless
/// `?include=formData`.
#[utoipa::path(get, path = "/api/v1/drafts", tag = "drafts",
    params(ListQuery, PageQuery),
    responses(
        (status = 200, description = "A page of live drafts", body = schemas::DraftPage),
        (status = 422, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    owner: Owner,
    list: Query<ListQuery>,
    page: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let with_form = match list.include.as_deref() {
        None => false,
        Some("formData") => true,
        Some(_) => return Err(FieldErrors::single("include", "may only be formData").into()),
    };
    let drafts = state.app.drafts.list(owner, page.request()?).await?;
    Ok(HttpResponse::Ok().json(PageBody::of(drafts, |mut draft| {
        let topic = draft
            .form_data
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if !with_form {
            draft.form_data = Map::new();
        }
        ListedDraft { draft, topic }
    })))
}

/// One draft.
#[utoipa::path(get, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The draft", body = schemas::Draft, headers(("ETag" = String))),
        GoneErrors,
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
) -> Result<HttpResponse, ApiError> {
    let draft = state.app.drafts.get(owner, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(draft.version))
        .json(draft))
}

/// Autosave: merge a patch into the form and refresh the draft's TTL.
///
/// A patch that changes nothing (`{}`, or values the form holds) keeps the
/// version (the `ETag`) and `updatedAt` and announces no event; it still
/// refreshes the TTL. `If-Match` is checked first.
///
/// With `Prefer: return=minimal` (RFC 7240) the answer is a 204 with the new
/// `ETag` and no body: the client already has the form it sent, and the
/// service skips reading the draft back and encoding it.
#[utoipa::path(patch, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(
        ("id" = Uuid, Path, description = "Draft id"),
        ("If-Match" = Option<String>, Header, description = "`*`, or the ETags the client accepts (usually the one last seen); when the draft's is none of them: 412"),
        ("Prefer" = Option<String>, Header, description = "`return=minimal`: answer 204 with the new ETag and no body"),
    ),
    request_body(content = DraftRequest, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Saved", body = schemas::Draft, headers(("ETag" = String))),
        (status = 204, description = "Saved; asked with `Prefer: return=minimal`", headers(("ETag" = String), ("Preference-Applied" = String))),
        DraftWriteErrors,
        BodyErrors,
        (status = 412, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
    ),
    security(("bearer" = [])))]
pub async fn autosave(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
    req: HttpRequest,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    if body.0.is_none() {
        return Err(ApiError::MalformedBody(
            "send a JSON merge patch of the form: {\"formData\": {...}}".into(),
        ));
    }
    let patch = form_patch(body)?;
    let answer = prefer::answer(req.headers());
    let saved = state
        .app
        .drafts
        .autosave(
            owner,
            *id,
            &patch,
            &if_match::precondition(req.headers()),
            answer,
        )
        .await?;
    Ok(match (answer, saved) {
        (Return::Representation, Saved::Draft(draft)) => HttpResponse::Ok()
            .insert_header(etag(draft.version))
            .json(draft),
        (_, saved) => HttpResponse::NoContent()
            .insert_header(etag(saved.version()))
            .insert_header((prefer::PREFERENCE_APPLIED, "return=minimal"))
            .finish(),
    })
}

/// Discard a draft. A materialized, unsubmitted draft takes its course and
/// files with it.
#[utoipa::path(delete, path = "/api/v1/drafts/{id}", tag = "drafts",
    params(("id" = Uuid, Path, description = "Draft id")),
    responses(
        (status = 204, description = "Discarded"),
        GoneErrors,
        (status = 429, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn discard(
    state: web::Data<AppState>,
    owner: Owner,
    id: web::Path<DraftId>,
) -> Result<HttpResponse, ApiError> {
    state.app.courses.discard_draft(owner, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
