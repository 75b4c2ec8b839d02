//! Admin routes, for `service_role` callers only.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Caller;
use super::body::JsonObject;
use super::problem::{ApiError, AuthenticatedErrors, ProblemResponse};
use super::query::Query;
use super::schemas;
use super::AppState;
use crate::app::admin::{JanitorReport, OrphanReport, PurgeReport};
use crate::domain::FieldErrors;

pub(super) fn require_service(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_service() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "this route is for service_role callers",
        ))
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DryRun {
    /// Report what would be done, change nothing.
    #[serde(default)]
    pub(super) dry_run: bool,
}

/// Draft-pollution figures and the cleanup queue.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    responses(
        (status = 200, description = "The figures", body = schemas::AdminStats),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn stats(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.admin.stats().await?))
}

/// Run the janitor now (or report what it would do).
#[utoipa::path(post, path = "/api/v1/admin/janitor/run", tag = "admin",
    params(DryRun),
    responses(
        (status = 200, description = "The run's report; lockedElsewhere if another replica's run holds the lock", body = JanitorReport),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn run_janitor(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<DryRun>,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.admin.run_janitor(query.dry_run).await?))
}

/// Run the trash purge now (or report what it would do): erases the courses
/// whose retention ended.
#[utoipa::path(post, path = "/api/v1/admin/purge/run", tag = "admin",
    params(DryRun),
    responses(
        (status = 200, description = "The run's report; lockedElsewhere if another replica's run holds the lock", body = PurgeReport),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn run_purge(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<DryRun>,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.admin.run_purge(query.dry_run).await?))
}

/// Run the orphan sweep now (or report what it would do).
#[utoipa::path(post, path = "/api/v1/admin/orphans/sweep", tag = "admin",
    params(DryRun),
    responses(
        (status = 200, description = "The sweep's report", body = OrphanReport),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn sweep_orphans(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<DryRun>,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.admin.sweep_orphans(query.dry_run).await?))
}

/// Which dead jobs to retry; without `ids`, all of them.
#[derive(ToSchema, Deserialize)]
#[allow(dead_code)] // describes the wire format for the OpenAPI document
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    #[serde(default)]
    ids: Vec<i64>,
}

/// How many dead jobs, and dead events, went back into their queues.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retried {
    retried: u64,
    /// Dead lifecycle events redriven (only by a retry without `ids`).
    events_retried: u64,
}

/// Put dead cleanup jobs back in the queue, with fresh attempts; without
/// `ids`, the dead lifecycle events too.
#[utoipa::path(post, path = "/api/v1/admin/cleanup/retry", tag = "admin",
    request_body(content = Option<RetryRequest>, description = "Optional: without a body, every dead job and every dead event"),
    responses(
        (status = 200, description = "Requeued", body = Retried),
        (status = 422, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn retry_cleanup(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    let mut ids = None;
    for (member, value) in body.0.unwrap_or_default() {
        match (member.as_str(), serde_json::from_value::<Vec<i64>>(value)) {
            ("ids", Ok(list)) => ids = Some(list),
            ("ids", Err(_)) => {
                return Err(FieldErrors::single("ids", "must be an array of job ids").into())
            }
            _ => {
                return Err(
                    FieldErrors::single(member, "is not a member of a retry request").into(),
                )
            }
        }
    }
    let redriven = state.app.admin.retry_dead(ids.as_deref()).await?;
    Ok(HttpResponse::Ok().json(Retried {
        retried: redriven.jobs,
        events_retried: redriven.events,
    }))
}

/// One lifecycle event by its `webhook-id`, with its delivery attempts (the
/// newest 20, newest first: when, how long, the receiver's status or the
/// error). Delivered events are kept 7 days, then go with their attempts.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/events/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "The event's webhook-id")),
    responses(
        (status = 200, description = "The event and its attempts", body = schemas::WebhookEvent),
        (status = 404, response = ProblemResponse),
        AuthenticatedErrors,
    ),
    security(("bearer" = [])))]
pub async fn webhook_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    require_service(&caller)?;
    Ok(HttpResponse::Ok().json(state.app.admin.webhook_event(*id).await?))
}
