//! Health, readiness, the OpenAPI document, request ids, store outages.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_both_stores_up() {
    let app = TestApp::spawn().await;
    let health = app.get_public("/healthz").await;
    assert_eq!(health.status(), 200);
    let body = app.readiness(200).await;
    assert_eq!(body["checks"], json!({"redis": "up", "postgres": "up"}));
}

#[tokio::test]
async fn with_redis_unreachable_readyz_is_503_and_redis_calls_answer_503() {
    // Nothing listens on port 1.
    let app = TestApp::spawn_without_redis().await;
    let body = app.readiness(503).await;
    assert_eq!(body["checks"]["postgres"], "up");
    assert_ne!(body["checks"]["redis"], "up");

    let list = app.call(Method::GET, "/api/v1/drafts", &app.user).await;
    assert_eq!(list.headers()["retry-after"], "1");
    assert_problem(list, 503).await;
    // Degraded mode: a new draft still opens, in Postgres.
    let draft = app.new_draft(&app.user, json!({})).await;
    assert_eq!(draft["store"], "postgres");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let response = app.get_public("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let served: BTreeSet<String> = [
        "POST /api/v1/drafts",
        "GET /api/v1/drafts",
        "GET /api/v1/drafts/{id}",
        "PATCH /api/v1/drafts/{id}",
        "DELETE /api/v1/drafts/{id}",
        "GET /api/v1/drafts/{id}/events",
        "POST /api/v1/drafts/{id}/materialize",
        "POST /api/v1/drafts/{id}/submit",
        "POST /api/v1/drafts/{id}/files",
        "GET /api/v1/drafts/{id}/files",
        "DELETE /api/v1/drafts/{id}/files/{file_id}",
        "POST /api/v1/drafts/{id}/uploads",
        "OPTIONS /api/v1/drafts/{id}/uploads",
        "HEAD /api/v1/drafts/{id}/uploads/{upload_id}",
        "PATCH /api/v1/drafts/{id}/uploads/{upload_id}",
        "DELETE /api/v1/drafts/{id}/uploads/{upload_id}",
        // tus's X-HTTP-Method-Override: PATCH or DELETE through a POST.
        "POST /api/v1/drafts/{id}/uploads/{upload_id}",
        "GET /api/v1/courses",
        "GET /api/v1/courses/{id}",
        "DELETE /api/v1/courses/{id}",
        "POST /api/v1/courses/{id}/restore",
        "POST /api/v1/admin/purge/run",
        "GET /api/v1/admin/stats",
        "POST /api/v1/admin/janitor/run",
        "POST /api/v1/admin/orphans/sweep",
        "POST /api/v1/admin/cleanup/retry",
        "POST /api/v1/admin/erase",
        "GET /api/v1/admin/erase/{id}",
        "GET /api/v1/admin/webhooks/events/{id}",
        "GET /metrics",
        "GET /api/v1/courses/{id}/files/{file_id}",
        "GET /healthz",
        "GET /readyz",
        "GET /openapi.json",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(documented, served);
    let draft = &doc["components"]["schemas"]["Draft"]["properties"];
    for member in [
        "id",
        "organizationId",
        "version",
        "status",
        "expiresAt",
        "courseId",
        "formData",
    ] {
        assert!(draft.get(member).is_some(), "Draft.{member} undocumented");
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let url = format!("{}/healthz", app.address);
    let with_id = |id: &'static str| app.client.get(&url).header("x-request-id", id).send();
    let echoed = with_id("form-42.a").await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "form-42.a");

    let generated = app.client.get(&url).send().await.unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let replaced = with_id("bad id {}").await.unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id {}");
}
