//! The HTTP layer: routes, authentication, request bodies, the OpenAPI
//! document and the mapping of every error to a problem response
//! ([`problem`]). Handlers parse, call a use case of [`crate::app`], and map
//! the result; this layer uses [`crate::app`] and the domain's types, never
//! the stores or the jobs.

pub mod admin;
pub mod auth;
pub mod body;
pub mod cors;
pub mod courses;
pub mod drafts;
pub mod erase;
pub mod events;
pub mod health;
pub mod if_match;
pub mod lifecycle;
pub mod loopback;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod paging;
pub mod prefer;
pub mod problem;
pub mod query;
pub mod request_id;
pub mod schemas;
pub mod timed_body;
pub mod tus;

use actix_web::http::Method;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse, Resource, ResponseError};

use crate::app::App;
use auth::Authenticator;
use problem::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub app: App,
    pub authenticator: Authenticator,
    pub max_body_bytes: usize,
    pub max_upload_bytes: u64,
    pub body_timeouts: timed_body::BodyTimeouts,
    /// How often an event stream sends a heartbeat.
    pub events_heartbeat: std::time::Duration,
    /// The secret to sign demo-user tokens with; `Some` only in dev mode.
    pub dev_token_secret: Option<String>,
}

/// The path pattern of the resource a request was routed to.
#[derive(Clone, Copy)]
struct RoutePattern(&'static str);

/// The `route` of logs and metrics: the pattern of the resource a request
/// was routed to, or `unmatched`. Read from the resource's data, not found
/// again by matching the path against every pattern (a regex search that was
/// a hot spot of autosaves).
pub fn route_of(req: &HttpRequest) -> &'static str {
    req.app_data::<RoutePattern>()
        .map_or("unmatched", |route| route.0)
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()));
    draft_routes(cfg);
    course_routes(cfg);
    admin_routes(cfg);
    public_routes(cfg);
    cfg.default_service(web::to(not_found));
}

/// Drafts, their files, event streams and resumable uploads.
fn draft_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/drafts", "POST, GET")
            .route(web::post().to(drafts::create))
            .route(web::get().to(drafts::list)),
    )
    .service(
        resource("/api/v1/drafts/{id}", "GET, PATCH, DELETE")
            .route(web::get().to(drafts::get))
            .route(web::patch().to(drafts::autosave))
            .route(web::delete().to(drafts::discard)),
    )
    .service(
        resource("/api/v1/drafts/{id}/events", "GET").route(web::get().to(events::draft_events)),
    )
    .service(
        resource("/api/v1/drafts/{id}/materialize", "POST")
            .route(web::post().to(courses::materialize)),
    )
    .service(resource("/api/v1/drafts/{id}/submit", "POST").route(web::post().to(courses::submit)))
    .service(
        resource("/api/v1/drafts/{id}/files", "POST, GET")
            .route(web::post().to(courses::upload))
            .route(web::get().to(courses::draft_files)),
    )
    .service(
        resource("/api/v1/drafts/{id}/uploads", "POST, OPTIONS")
            .wrap(DefaultHeaders::new().add(tus::resumable_header()))
            .route(web::post().to(tus::create))
            .route(web::method(Method::OPTIONS).to(tus::options)),
    )
    .service(
        resource(
            "/api/v1/drafts/{id}/uploads/{upload_id}",
            "HEAD, PATCH, DELETE",
        )
        .wrap(DefaultHeaders::new().add(tus::resumable_header()))
        .route(web::head().to(tus::head))
        .route(web::patch().to(tus::patch))
        .route(web::delete().to(tus::terminate))
        // tus core: a POST with X-HTTP-Method-Override is that method; a
        // POST naming any other is refused, and a plain POST is a 405.
        .route(web::post().guard(tus::overrides_to("PATCH")).to(tus::patch))
        .route(
            web::post()
                .guard(tus::overrides_to("DELETE"))
                .to(tus::terminate),
        )
        .route(
            web::post()
                .guard(actix_web::guard::fn_guard(|ctx| {
                    ctx.head().headers().contains_key(tus::METHOD_OVERRIDE)
                }))
                .to(tus::refuse_override),
        ),
    )
    .service(
        resource("/api/v1/drafts/{id}/files/{file_id}", "DELETE")
            .route(web::delete().to(courses::delete_draft_file)),
    );
}

/// Courses: lists, the trash, downloads.
fn course_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/courses", "GET").route(web::get().to(lifecycle::list_courses)))
        .service(
            resource("/api/v1/courses/{id}", "GET, DELETE")
                .route(web::get().to(courses::course))
                .route(web::delete().to(lifecycle::delete_course)),
        )
        .service(
            resource("/api/v1/courses/{id}/restore", "POST")
                .route(web::post().to(lifecycle::restore_course)),
        )
        .service(
            resource("/api/v1/courses/{id}/files/{file_id}", "GET")
                .route(web::get().to(courses::download)),
        );
}

/// The operator's routes (service_role).
fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/admin/stats", "GET").route(web::get().to(admin::stats)))
        .service(
            resource("/api/v1/admin/janitor/run", "POST").route(web::post().to(admin::run_janitor)),
        )
        .service(
            resource("/api/v1/admin/orphans/sweep", "POST")
                .route(web::post().to(admin::sweep_orphans)),
        )
        .service(
            resource("/api/v1/admin/purge/run", "POST").route(web::post().to(admin::run_purge)),
        )
        .service(
            resource("/api/v1/admin/cleanup/retry", "POST")
                .route(web::post().to(admin::retry_cleanup)),
        )
        .service(
            resource("/api/v1/admin/webhooks/events/{id}", "GET")
                .route(web::get().to(admin::webhook_event)),
        )
        .service(resource("/api/v1/admin/erase", "POST").route(web::post().to(erase::start_erase)))
        .service(
            resource("/api/v1/admin/erase/{id}", "GET").route(web::get().to(erase::erase_state)),
        );
}

/// The page, its scripts, and the operations' routes.
fn public_routes(cfg: &mut web::ServiceConfig) {
    // HEAD too: uptime checks and link checkers ask the page with it.
    cfg.service(
        resource("/", "GET, HEAD")
            .route(web::get().to(page::index))
            .route(web::head().to(page::index)),
    )
    .service(resource("/app.css", "GET").route(web::get().to(page::stylesheet)))
    .service(resource("/api/v1/dev/token", "GET").route(web::get().to(page::dev_token)))
    .service(resource("/metrics", "GET").route(web::get().to(metrics::render)))
    .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
    .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
    .service(resource("/openapi.json", "GET").route(web::get().to(openapi::openapi_json)));
    for (path, body) in page::SCRIPTS {
        cfg.service(
            resource(path, "GET").route(web::get().to(move || async move { page::script(body) })),
        );
    }
}

/// A resource whose other methods answer with a 405 problem naming `allow`,
/// carrying its path pattern for [`route_of`].
fn resource(path: &'static str, allow: &'static str) -> Resource {
    web::resource(path)
        .app_data(RoutePattern(path))
        .default_service(web::to(move |req: HttpRequest| async move {
            ApiError::MethodNotAllowed {
                method: req.method().to_string(),
                allow,
            }
            .error_response()
        }))
}

async fn not_found() -> HttpResponse {
    ApiError::NotFound.error_response()
}
