//! Erasing an organization or a user: admin routes, for `service_role`
//! callers only.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde_json::Value;
use uuid::Uuid;

use super::admin::{require_service, DryRun};
use super::auth::Caller;
use super::body::JsonObject;
use super::problem::{ApiError, AuthenticatedErrors, ProblemResponse};
use super::query::Query;
use super::schemas::erase as schemas;
use super::AppState;
use crate::domain::erase::{EraseScope, EraseSubject};
use crate::domain::identity::external_id;
use crate::domain::FieldErrors;

/// The subject of an erase request: exactly one of `organizationId` and
/// `userId`, a UUID or an id as the identity provider's tokens give it
/// (`auth0|…`), mapped as the token check maps it, in the namespace of
/// `issuer` if the request names one, else of `DRAFTD_JWT_ISSUER`.
fn subject(body: JsonObject, configured_issuer: &str) -> Result<EraseSubject, ApiError> {
    let mut errors = FieldErrors::default();
    let mut members = body.0.unwrap_or_default();
    let issuer = match members.remove("issuer") {
        None => configured_issuer.to_owned(),
        Some(Value::String(issuer)) => issuer,
        Some(_) => {
            errors.add(
                "issuer",
                "must be a string: the iss of the subject's tokens",
            );
            String::new()
        }
    };
    let mut named = Vec::new();
    for (member, value) in members {
        let scope = match member.as_str() {
            "organizationId" => EraseScope::Organization,
            "userId" => EraseScope::User,
            _ => {
                errors.add(
                    member,
                    "is not a member of an erase request; send organizationId or userId",
                );
                continue;
            }
        };
        match value.as_str().and_then(|id| external_id(&issuer, id)) {
            Some(id) => named.push(EraseSubject { scope, id }),
            None if value == Value::Null => errors.add(member, "must be an id, not null"),
            None => errors.add(
                member,
                "must be a UUID or the id the identity provider's tokens give, a non-empty string",
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    match named.as_slice() {
        [subject] => Ok(*subject),
        [] => Err(FieldErrors::single("organizationId", "send organizationId or userId").into()),
        _ => Err(FieldErrors::single("userId", "send organizationId or userId, not both").into()),
    }
}

/// Erase everything of one organization or one user: course rows (trashed
/// or not), files, draft sessions in Redis and in Postgres, cleanup jobs.
///
/// The subject is a UUID, or the raw id the identity provider's tokens carry
/// (`auth0|…`, `user_…`): draftd maps it as it maps a token's `sub`, to
/// UUIDv5(UUIDv5(NAMESPACE_URL, issuer), id), the issuer being the request's
/// `issuer` or else `DRAFTD_JWT_ISSUER` (or the empty string). The answer's
/// `subjectId` is the UUID erased.
///
/// Runs as a job: 202 with the erase's state and its `Location`; a request
/// for a subject whose erase is running answers that erase. From the request
/// on, and for an access token's lifetime after the erase ends, the
/// subject's writes are refused (403). `?dryRun=true` answers the report the
/// erase would give, at once, and changes nothing.
#[utoipa::path(post, path = "/api/v1/admin/erase", tag = "admin",
    params(DryRun),
    request_body(content = schemas::EraseRequest),
    responses(
        (status = 202, description = "Erasing (or already erasing): the erase's state", body = schemas::EraseState,
         headers(("Location" = String, description = "Where the erase's state and report are"))),
        (status = 200, description = "Dry run: the report the erase would give", body = schemas::EraseReport),
        (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn start_erase(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<DryRun>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    let subject = subject(body, state.authenticator.issuer())?;
    if query.dry_run {
        return Ok(HttpResponse::Ok().json(state.app.erasures.predict(subject).await?));
    }
    let erase = state.app.erasures.start(subject).await?;
    Ok(HttpResponse::Accepted()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/admin/erase/{}", erase.id),
        ))
        .json(erase))
}

/// An erase's state (`running`, `done`, `failed`), its progress, and once
/// finished its report.
#[utoipa::path(get, path = "/api/v1/admin/erase/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "Erase id")),
    responses(
        (status = 200, description = "The erase", body = schemas::EraseState),
        (status = 404, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn erase_state(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.erasures.state(*id).await?))
}
