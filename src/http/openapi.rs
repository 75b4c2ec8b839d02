//! The OpenAPI 3 document of the API, served at `/openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problem::{NotLoopbackResponse, Problem, ProblemResponse};
use super::{admin, courses, drafts, erase, events, health, lifecycle, metrics, tus};

#[derive(OpenApi)]
#[openapi(
    info(title = "draftd", description = "Draft sessions of the create-course form: \
        held in Redis, written to Postgres only when they become real."),
    paths(
        drafts::create, drafts::list, drafts::get, drafts::autosave, drafts::discard,
        events::draft_events,
        courses::materialize, courses::submit, courses::upload, courses::draft_files,
        courses::delete_draft_file, courses::course, courses::download,
        tus::options, tus::create, tus::head, tus::patch, tus::terminate, tus::refuse_override,
        lifecycle::list_courses, lifecycle::delete_course, lifecycle::restore_course,
        admin::stats, admin::run_janitor, admin::sweep_orphans, admin::run_purge,
        admin::retry_cleanup, admin::webhook_event, erase::start_erase, erase::erase_state,
        health::healthz, health::readyz, metrics::render, openapi_json,
    ),
    servers((url = "/", description = "The service itself: the document is served by the API it describes")),
    components(schemas(Problem), responses(ProblemResponse, NotLoopbackResponse)),
    modifiers(&BearerAuth),
    tags(
        (name = "drafts", description = "Draft sessions of the create-course form"),
        (name = "courses", description = "Courses that drafts become, their files, the trash"),
        (name = "uploads", description = "Resumable uploads, tus 1.0.0 (core, creation, termination, expiration)"),
        (name = "admin", description = "Operators' routes: service_role only"),
        (name = "health", description = "Liveness, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT")
                        .description(Some(
                            "A JWT signed with HS256 and the service's secret, or with \
                             RS256, ES256 or EdDSA and a key of the identity provider's \
                             key set (`DRAFTD_JWKS_URL`, by its `kid`; the key decides \
                             the algorithm). `sub` is the user, the organization is at \
                             `org_id` (or `DRAFTD_JWT_ORG_CLAIM`), `service_role` in the \
                             role claim marks an admin caller; ids that are not UUIDs \
                             are mapped to UUIDv5 in the issuer's namespace. Bad, \
                             expired or unknown-key tokens: 401.",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
        (status = 403, response = NotLoopbackResponse),
    ),
    security())]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
