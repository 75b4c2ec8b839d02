//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::NotLoopbackResponse;
use super::AppState;
use crate::app::admin::Readiness;
use crate::domain::StoreError;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
    /// Per store: `up` or `down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Checks>,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    redis: StoreState,
    postgres: StoreState,
    /// The identity provider's key set (`DRAFTD_JWKS_URL`, only when set):
    /// `down` until its first fetch succeeds, then `up` (a failed fetch keeps
    /// the last good set).
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks: Option<StoreState>,
}

/// A store's state. Why a store is down goes to the log, never to an
/// anonymous caller: driver errors name hosts, users and databases.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreState {
    Up,
    Down,
}

impl StoreState {
    fn of(store: &'static str, check: Result<(), StoreError>) -> Self {
        match check {
            Ok(()) => Self::Up,
            Err(error) => {
                tracing::warn!(store, %error, "readiness check failed");
                Self::Down
            }
        }
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "Alive", body = Health),
        (status = 403, response = NotLoopbackResponse),
    ),
    security())]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        checks: None,
    })
}

/// Readiness: Redis and Postgres both answer, and the identity provider's key
/// set, if one is configured, has been fetched.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Both stores answer (and the key set is loaded)", body = Health),
        (status = 503, description = "A store does not answer, or the key set was never fetched", body = Health),
        (status = 403, response = NotLoopbackResponse),
    ),
    security())]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let Readiness { redis, postgres } = state.app.admin.readiness().await;
    // Why a fetch failed is logged by the task that fetches.
    let jwks = state.authenticator.jwks().map(|keys| keys.is_ready());
    let ready = redis.is_ok() && postgres.is_ok() && jwks != Some(false);
    let body = Health {
        status: if ready { "ready" } else { "unavailable" },
        checks: Some(Checks {
            redis: StoreState::of("redis", redis),
            postgres: StoreState::of("postgres", postgres),
            jwks: jwks.map(|up| if up { StoreState::Up } else { StoreState::Down }),
        }),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
