//! Calls from other origins (`DRAFTD_CORS_ORIGINS`): listed origins get
//! their preflights answered and the CORS headers on every answer, problems
//! included; unlisted origins get neither; with no origins configured there
//! are no CORS headers at all.

use draftd::config::cors::CorsOrigins;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{assert_problem, new_user, TestApp};

const LISTED: &str = "https://app.example.com";
const UNLISTED: &str = "https://elsewhere.example.com";

async fn spawn_listing(origins: &str, adjust: impl FnOnce(&mut draftd::config::Config)) -> TestApp {
    let origins = CorsOrigins::parse(origins).expect("valid origins");
    TestApp::spawn_with(|c| {
        c.cors_origins = origins;
        adjust(c);
    })
    .await
}

/// A browser's preflight from `origin` for `method` with `headers`.
async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Response {
    let mut request = app
        .client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("origin", origin)
        .header("access-control-request-method", method);
    if !headers.is_empty() {
        request = request.header("access-control-request-headers", headers);
    }
    request.send().await.expect("request sent")
}

async fn send(request: RequestBuilder, origin: &str) -> Response {
    request
        .header("origin", origin)
        .send()
        .await
        .expect("request sent")
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The names of a comma-separated header, lowercased.
fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

/// An answer a page of `origin` may read: its origin allowed, no credentials,
/// the headers the API answers with exposed, and caches told it depends on
/// the origin.
fn assert_readable_by(headers: &HeaderMap, origin: &str) {
    assert_eq!(header(headers, "access-control-allow-origin"), Some(origin));
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
    let exposed = listed(headers, "access-control-expose-headers");
    for name in [
        "etag",
        "location",
        "retry-after",
        "x-request-id",
        "upload-offset",
        "tus-resumable",
    ] {
        assert!(
            exposed.iter().any(|e| e == name),
            "{name} not in {exposed:?}"
        );
    }
    assert!(listed(headers, "vary").iter().any(|v| v == "origin"));
}

/// An answer a browser keeps from a page of another origin. (actix-cors lists
/// the exposed headers on every answer; without an allowed origin they expose
/// nothing.)
fn assert_not_readable(headers: &HeaderMap) {
    assert_eq!(header(headers, "access-control-allow-origin"), None);
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
}

fn assert_no_cors(headers: &HeaderMap) {
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{cors:?}");
}

#[tokio::test]
async fn a_listed_origins_preflight_is_answered_before_any_token_is_checked() {
    let app = spawn_listing(&format!("http://127.0.0.1:5173,{LISTED}"), |_| {}).await;
    let path = format!("/api/v1/drafts/{}", Uuid::new_v4());

    let answer = preflight(
        &app,
        &path,
        LISTED,
        "PATCH",
        "authorization,content-type,if-match",
    )
    .await;
    assert_eq!(answer.status(), 200);
    let headers = answer.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), Some(LISTED));
    let methods = listed(headers, "access-control-allow-methods");
    for method in ["get", "post", "patch", "delete", "head", "options"] {
        assert!(
            methods.iter().any(|m| m == method),
            "{method} not in {methods:?}"
        );
    }
    let allowed = listed(headers, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "if-none-match",
        "prefer",
        "x-request-id",
        "x-http-method-override",
    ] {
        assert!(
            allowed.iter().any(|h| h == name),
            "{name} not in {allowed:?}"
        );
    }
    assert_eq!(header(headers, "access-control-max-age"), Some("600"));
    assert_eq!(header(headers, "access-control-allow-credentials"), None);
    assert!(listed(headers, "vary").iter().any(|v| v == "origin"));

    // The resumable uploads' requests, ahead of the routes that will take them.
    let uploads = format!("{path}/uploads");
    let tus = "tus-resumable,upload-length,upload-metadata,upload-defer-length";
    assert_eq!(
        preflight(&app, &uploads, LISTED, "POST", tus)
            .await
            .status(),
        200
    );
    let resume = "tus-resumable,upload-offset,content-type";
    for method in ["HEAD", "PATCH", "DELETE"] {
        let answer = preflight(
            &app,
            &format!("{uploads}/{}", Uuid::new_v4()),
            LISTED,
            method,
            resume,
        )
        .await;
        assert_eq!(answer.status(), 200, "{method}");
    }
    // The other listed origin is answered with its own name.
    let other = preflight(&app, &path, "http://127.0.0.1:5173", "PATCH", "if-match").await;
    assert_eq!(
        header(other.headers(), "access-control-allow-origin"),
        Some("http://127.0.0.1:5173")
    );
}

#[tokio::test]
async fn a_listed_origin_reads_answers_and_problems_with_their_headers() {
    let app = spawn_listing(LISTED, |c| c.write_rate_limit = 1).await;
    let user = &app.user;

    let created = send(
        app.request(Method::POST, "/api/v1/drafts", user)
            .json(&json!({})),
        LISTED,
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_readable_by(created.headers(), LISTED);
    let id = created.json::<serde_json::Value>().await.expect("draft")["id"]
        .as_str()
        .expect("draft id")
        .to_owned();

    let autosave = |tag: &str| {
        app.request(Method::PATCH, &format!("/api/v1/drafts/{id}"), user)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", tag)
            .body(json!({"formData": {"topic": "From another origin"}}).to_string())
    };
    let saved = send(autosave("\"1\""), LISTED).await;
    assert_eq!(saved.status(), 200);
    assert_readable_by(saved.headers(), LISTED);
    assert_eq!(header(saved.headers(), "etag"), Some("\"2\""));
    assert_eq!(
        app.draft(user, &id).await["formData"]["topic"],
        "From another origin"
    );

    // A stale version: the page can read the 412 and its current version.
    let stale = send(autosave("\"1\""), LISTED).await;
    assert_readable_by(stale.headers(), LISTED);
    assert_eq!(assert_problem(stale, 412).await["currentVersion"], 2);

    // No token.
    let anonymous = app
        .client
        .patch(format!("{}/api/v1/drafts/{id}", app.address))
        .json(&json!({"formData": {}}));
    let unauthorized = send(anonymous, LISTED).await;
    assert_readable_by(unauthorized.headers(), LISTED);
    assert_problem(unauthorized, 401).await;

    // Someone else's draft.
    let foreign = send(
        app.request(Method::GET, &format!("/api/v1/drafts/{id}"), &new_user()),
        LISTED,
    )
    .await;
    assert_readable_by(foreign.headers(), LISTED);
    assert_problem(foreign, 404).await;

    // Past the write rate: the page can read when to retry.
    let limited = send(
        app.request(Method::POST, "/api/v1/drafts", user)
            .json(&json!({})),
        LISTED,
    )
    .await;
    assert_readable_by(limited.headers(), LISTED);
    assert!(header(limited.headers(), "retry-after").is_some());
    assert_problem(limited, 429).await;
}

#[tokio::test]
async fn an_unlisted_origin_gets_no_cors_headers_and_its_preflights_are_refused() {
    let app = spawn_listing(LISTED, |_| {}).await;
    let draft = app.new_draft(&app.user, json!({"topic": "Mine"})).await;
    let path = format!("/api/v1/drafts/{}", draft["id"].as_str().expect("draft id"));

    let refused = preflight(
        &app,
        &path,
        UNLISTED,
        "PATCH",
        "authorization,content-type,if-match",
    )
    .await;
    assert_no_cors(refused.headers());
    // Logged like any request: it carries its id.
    assert!(refused.headers().contains_key("x-request-id"));
    // Refused by the CORS layer, not by the route (which would answer 405).
    let problem = assert_problem(refused, 403).await;
    assert_eq!(problem["type"], "urn:draftd:problem:cors-refused");

    // A listed origin asking for more than is allowed is refused too.
    for (method, headers) in [
        ("PATCH", "authorization,x-custom"),
        ("PUT", "authorization"),
    ] {
        let refused = preflight(&app, &path, LISTED, method, headers).await;
        assert_no_cors(refused.headers());
        assert_problem(refused, 403).await;
    }
    // A preflight must name its origin.
    let anonymous = app
        .client
        .request(Method::OPTIONS, format!("{}{path}", app.address))
        .header("access-control-request-method", "PATCH")
        .send()
        .await
        .expect("request sent");
    assert_problem(anonymous, 403).await;

    // Without a preflight (which a browser always sends first for these
    // calls) the answer comes, as it does for same-origin pages, which send
    // `Origin` too, but without CORS headers: a browser keeps it from a page
    // of another origin.
    let read = send(app.request(Method::GET, &path, &app.user), UNLISTED).await;
    assert_eq!(read.status(), 200);
    assert_not_readable(read.headers());
    let missing = send(
        app.request(Method::GET, "/api/v1/drafts/x", &app.user),
        UNLISTED,
    )
    .await;
    assert_not_readable(missing.headers());
    assert_problem(missing, 404).await;
}

#[tokio::test]
async fn without_origins_configured_there_are_no_cors_headers() {
    let app = TestApp::spawn().await;
    assert!(app.config.cors_origins.is_empty());
    let draft = app.new_draft(&app.user, json!({})).await;
    let path = format!("/api/v1/drafts/{}", draft["id"].as_str().expect("draft id"));

    // An OPTIONS request is just another method here.
    let options = preflight(&app, &path, LISTED, "PATCH", "authorization,if-match").await;
    assert_no_cors(options.headers());
    assert_problem(options, 405).await;

    let saved = send(
        app.request(Method::PATCH, &path, &app.user)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"formData": {"topic": "Same origin"}}).to_string()),
        LISTED,
    )
    .await;
    assert_eq!(saved.status(), 200);
    assert_no_cors(saved.headers());
    assert!(!listed(saved.headers(), "vary")
        .iter()
        .any(|v| v == "origin"));
}
