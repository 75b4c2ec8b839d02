//! The create-course page: static HTML, CSS and JavaScript embedded in the
//! binary (no build step), the HTML's limits filled in from the form's table
//! of fields once ([`template`]), and, in dev mode only, a token for its demo
//! user.

mod template;

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::auth::{mint, Claims};
use super::problem::ApiError;
use super::AppState;

/// The demo user and organization of dev tokens.
pub const DEMO_USER: uuid::Uuid = uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_d3e0);
pub const DEMO_ORG: uuid::Uuid = uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_00a1);
/// Lifetime of a dev token.
const DEV_TOKEN_SECS: i64 = 12 * 3600;

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // The page has no inline script or style, and talks only to this origin.
        // No other site may frame it (clickjacking), no <base> may redirect
        // its relative URLs, and no address of a draft leaks as a Referer.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(body)
}

/// `web/index.html`, its limits still placeholders.
const INDEX_TEMPLATE: &str = include_str!("../../web/index.html");

/// The page with its limits, rendered on its first request. The template is
/// part of the binary and a test renders it, so this cannot fail at run time.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    template::render(INDEX_TEMPLATE).unwrap_or_else(|e| panic!("web/index.html: {e}"))
});

pub async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX.as_str())
}

pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", include_str!("../../web/app.css"))
}

/// The page's scripts (ES modules), by path.
pub const SCRIPTS: &[(&str, &str)] = &[
    ("/app.js", include_str!("../../web/app.js")),
    ("/api.js", include_str!("../../web/api.js")),
    (
        "/draft-client.js",
        include_str!("../../web/draft-client.js"),
    ),
    ("/draft-state.js", include_str!("../../web/draft-state.js")),
    (
        "/draft-journal.js",
        include_str!("../../web/draft-journal.js"),
    ),
    (
        "/journal-replay.js",
        include_str!("../../web/journal-replay.js"),
    ),
    (
        "/draft-remote.js",
        include_str!("../../web/draft-remote.js"),
    ),
    ("/draft-files.js", include_str!("../../web/draft-files.js")),
    (
        "/draft-lifecycle.js",
        include_str!("../../web/draft-lifecycle.js"),
    ),
    ("/draft-live.js", include_str!("../../web/draft-live.js")),
    ("/resume.js", include_str!("../../web/resume.js")),
    ("/tus-upload.js", include_str!("../../web/tus-upload.js")),
    ("/journal.js", include_str!("../../web/journal.js")),
    ("/files.js", include_str!("../../web/files.js")),
    (
        "/upload-problem.js",
        include_str!("../../web/upload-problem.js"),
    ),
    (
        "/upload-shelf.js",
        include_str!("../../web/upload-shelf.js"),
    ),
    ("/upload-wait.js", include_str!("../../web/upload-wait.js")),
    ("/conflict.js", include_str!("../../web/conflict.js")),
    ("/drafts.js", include_str!("../../web/drafts.js")),
    (
        "/field-errors.js",
        include_str!("../../web/field-errors.js"),
    ),
    ("/notes.js", include_str!("../../web/notes.js")),
    ("/success.js", include_str!("../../web/success.js")),
    ("/trash.js", include_str!("../../web/trash.js")),
];

pub fn script(body: &'static str) -> HttpResponse {
    asset("text/javascript; charset=utf-8", body)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DevToken {
    token: String,
    user_id: uuid::Uuid,
    organization_id: uuid::Uuid,
    expires_at: i64,
}

/// A token for the demo user; the route exists only in dev mode.
pub async fn dev_token(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let secret = state
        .dev_token_secret
        .as_deref()
        .ok_or(ApiError::NotFound)?;
    let claims = Claims {
        sub: Some(DEMO_USER),
        org_id: Some(DEMO_ORG),
        role: None,
        exp: chrono::Utc::now().timestamp() + DEV_TOKEN_SECS,
        iat: Some(chrono::Utc::now().timestamp()),
    };
    let token =
        mint(secret, &claims).map_err(|_| ApiError::Unauthorized("cannot sign a dev token"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DevToken {
            token,
            user_id: DEMO_USER,
            organization_id: DEMO_ORG,
            expires_at: claims.exp,
        }))
}
