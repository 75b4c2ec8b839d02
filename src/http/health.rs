//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::app::admin::Readiness;
use crate::domain::StoreError;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
    /// Per store: `up`, or why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Checks>,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    redis: String,
    postgres: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        checks: None,
    })
}

/// Readiness: Redis and Postgres both answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Both stores answer", body = Health),
        (status = 503, description = "A store does not answer", body = Health),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let Readiness { redis, postgres } = state.app.admin.readiness().await;
    let ready = redis.is_ok() && postgres.is_ok();
    let describe = |r: Result<(), StoreError>| r.map_or_else(|e| e.to_string(), |()| "up".into());
    let body = Health {
        status: if ready { "ready" } else { "unavailable" },
        checks: Some(Checks {
            redis: describe(redis),
            postgres: describe(postgres),
        }),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
