//! The draft lifecycle: create, fetch, list, discard; the per-user cap.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, new_user, TestApp};
use deadpool_redis::redis::AsyncCommands;

#[tokio::test]
async fn create_answers_201_with_location_etag_and_the_draft() {
    let app = TestApp::spawn().await;
    let response = app
        .create_draft(
            &app.user,
            json!({"formData": {"topic": "Основы Rust", "estimatedLessons": 12}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let draft: Value = response.json().await.unwrap();

    let id = draft["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/drafts/{id}"));
    assert_eq!(etag, "\"1\"");
    assert_eq!(draft["version"], 1);
    assert_eq!(draft["status"], "open");
    assert_eq!(draft["organizationId"], app.user.org.to_string());
    assert_eq!(draft["courseId"], Value::Null);
    assert_eq!(draft["courseSlug"], Value::Null);
    assert_eq!(
        draft["formData"],
        json!({"topic": "Основы Rust", "estimatedLessons": 12})
    );
    let created =
        chrono::DateTime::parse_from_rfc3339(draft["createdAt"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(draft["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 86_400);

    // The key is the SPEC's, with literal braces, and lives for the TTL.
    let mut redis = app.redis().await;
    let ttl: i64 = redis.pttl(draft_key(&app.user, id)).await.unwrap();
    assert!(ttl > 86_000_000 && ttl <= 86_400_000, "ttl {ttl}");

    assert_eq!(app.draft(&app.user, id).await, draft);
}

#[tokio::test]
async fn create_without_a_body_opens_an_empty_draft() {
    let app = TestApp::spawn().await;
    let response = app.call(Method::POST, "/api/v1/drafts", &app.user).await;
    assert_eq!(response.status(), 201);
    let draft: Value = response.json().await.unwrap();
    assert_eq!(draft["formData"], json!({}));
}

#[tokio::test]
async fn list_shows_live_drafts_most_recently_written_first() {
    let app = TestApp::spawn().await;
    let first = app.new_draft(&app.user, json!({"topic": "first"})).await;
    let second = app.new_draft(&app.user, json!({"topic": "second"})).await;
    let first_id = first["id"].as_str().unwrap();
    // Writing the first one makes it the most recent.
    let saved = app
        .patch_draft(&app.user, first_id, json!({"language": "ru"}), None)
        .await;
    assert_eq!(saved.status(), 200);

    let response = app
        .call(Method::GET, "/api/v1/drafts?include=formData", &app.user)
        .await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    let list = page["items"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first_id, second["id"].as_str().unwrap()]);
    assert_eq!(
        list[0]["formData"],
        json!({"topic": "first", "language": "ru"})
    );
}

#[tokio::test]
async fn list_forgets_drafts_that_expired() {
    let app = TestApp::spawn().await;
    let gone = app.new_draft(&app.user, json!({})).await;
    let kept = app.new_draft(&app.user, json!({})).await;
    // Expiry, as Redis does it: the key disappears.
    let mut redis = app.redis().await;
    let _: () = redis
        .del(draft_key(&app.user, gone["id"].as_str().unwrap()))
        .await
        .unwrap();

    let list = &app.get_json(&app.user, "/api/v1/drafts").await["items"];
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], kept["id"]);
}

#[tokio::test]
async fn discard_deletes_the_draft_and_its_key() {
    let (app, id) = &TestApp::with_draft_id(json!({"topic": "gone soon"})).await;

    let path = format!("/api/v1/drafts/{id}");
    let response = app.call(Method::DELETE, &path, &app.user).await;
    assert_eq!(response.status(), 204);

    // Its owner is told it was discarded; anyone else finds nothing.
    assert_problem(app.get_draft(&app.user, id).await, 410).await;
    assert_problem(app.get_draft(&new_user(), id).await, 404).await;
    let mut redis = app.redis().await;
    let exists: bool = redis.exists(draft_key(&app.user, id)).await.unwrap();
    assert!(!exists);
    // A discard sent again (its answer lost, say) is told the same.
    let again = app.call(Method::DELETE, &path, &app.user).await;
    assert_eq!(again.status(), 410);
}

#[tokio::test]
async fn the_per_user_cap_answers_429_and_frees_up_on_discard() {
    let app = TestApp::spawn_with(|c| c.max_drafts_per_user = 3).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            app.new_draft(&app.user, json!({})).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let refused = app.create_draft(&app.user, json!({})).await;
    let problem = crate::helpers::assert_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:draftd:problem:too-many-drafts");

    // Another user is not affected.
    let other = new_user();
    assert_eq!(app.create_draft(&other, json!({})).await.status(), 201);

    let path = format!("/api/v1/drafts/{}", ids[0]);
    let discarded = app.call(Method::DELETE, &path, &app.user).await;
    assert_eq!(discarded.status(), 204);
    assert_eq!(app.create_draft(&app.user, json!({})).await.status(), 201);
}

#[tokio::test]
async fn racing_creates_never_exceed_the_cap() {
    let app = TestApp::spawn_with(|c| c.max_drafts_per_user = 5).await;
    let responses = join_all((0..20).map(|_| app.create_draft(&app.user, json!({})))).await;
    let created = responses.iter().filter(|r| r.status() == 201).count();
    let refused = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((created, refused), (5, 15));
}

/// Invariant 1: opening, autosaving, listing and discarding drafts writes
/// nothing to Postgres.
#[tokio::test]
async fn draft_sessions_never_write_a_course_row() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        let id = &app
            .draft_id(&app.user, json!({"topic": format!("course {i}")}))
            .await;
        let saved = app
            .patch_draft(&app.user, id, json!({"description": "more"}), Some("\"1\""))
            .await;
        assert_eq!(saved.status(), 200);
        app.draft(&app.user, id).await;
        if i % 2 == 0 {
            let path = format!("/api/v1/drafts/{id}");
            let response = app.call(Method::DELETE, &path, &app.user).await;
            assert_eq!(response.status(), 204);
        }
    }
    let list = app.call(Method::GET, "/api/v1/drafts", &app.user).await;
    assert_eq!(list.status(), 200);

    assert_eq!(app.course_count().await, 0);
}
