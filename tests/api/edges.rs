//! Protocol edges found by real clients and an audit (issue 24): each test
//! here failed on the code before its fix.

use deadpool_redis::redis::AsyncCommands;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, draft_key, service_user, TestApp};
use crate::records::Record;

/// A cursor as the lists make them (hex of `<unix µs>:<id>`), for any time.
fn cursor_at(micros: i64) -> String {
    hex::encode(format!("{micros}:{}", uuid::Uuid::new_v4()))
}

#[tokio::test]
async fn a_cursor_naming_a_time_postgres_cannot_hold_is_a_422_on_every_list() {
    let app = TestApp::spawn().await;
    app.new_draft(&app.user, serde_json::json!({"topic": "One draft"}))
        .await;
    // 4714-11-24 BC is Postgres' earliest timestamptz; a microsecond before
    // it once reached the query and came back as a 500.
    let earliest: i64 = -210_866_803_200_000_000;
    for list in [
        "/api/v1/courses",
        "/api/v1/courses?trashed=true",
        "/api/v1/drafts",
    ] {
        let sep = if list.contains('?') { '&' } else { '?' };
        for micros in [earliest - 1, i64::MIN] {
            let path = format!("{list}{sep}cursor={}", cursor_at(micros));
            let body = assert_problem(app.call(Method::GET, &path, &app.user).await, 422).await;
            assert!(body["errors"]["cursor"].is_array(), "{path}: {body}");
        }
        let path = format!("{list}{sep}cursor={}", cursor_at(earliest));
        let response = app.call(Method::GET, &path, &app.user).await;
        assert_eq!(
            response.status(),
            200,
            "{path}: the earliest time is a cursor"
        );
        let page: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(page["items"], serde_json::json!([]), "nothing is older");
        // chrono's latest time (262142 AD) is within Postgres' (294276 AD).
        let latest = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_micros();
        let path = format!("{list}{sep}cursor={}", cursor_at(latest));
        let response = app.call(Method::GET, &path, &app.user).await;
        assert_eq!(
            response.status(),
            200,
            "{path}: the latest time is a cursor"
        );
    }
}

#[tokio::test]
async fn a_query_parameter_that_does_not_parse_is_an_invalid_query_naming_it() {
    let app = TestApp::spawn().await;
    let admin = service_user();
    let course = uuid::Uuid::new_v4();
    let cases = [
        (
            Method::GET,
            "/api/v1/drafts?limit=ten".to_owned(),
            "limit",
            &app.user,
        ),
        (
            Method::GET,
            "/api/v1/courses?trashed=yes".to_owned(),
            "trashed",
            &app.user,
        ),
        (
            Method::GET,
            "/api/v1/courses?limit=-1".to_owned(),
            "limit",
            &app.user,
        ),
        (
            Method::DELETE,
            format!("/api/v1/courses/{course}?permanent=maybe"),
            "permanent",
            &app.user,
        ),
        (
            Method::POST,
            "/api/v1/admin/janitor/run?dryRun=perhaps".to_owned(),
            "dryRun",
            &admin,
        ),
        (
            Method::POST,
            "/api/v1/admin/erase?dryRun=1".to_owned(),
            "dryRun",
            &admin,
        ),
    ];
    for (method, path, parameter, user) in cases {
        let body = assert_problem(app.call(method, &path, user).await, 400).await;
        assert_eq!(
            body["type"], "urn:draftd:problem:invalid-query",
            "{path}: {body}"
        );
        assert_eq!(body["title"], "Invalid query parameter", "{path}");
        assert!(body["errors"][parameter].is_array(), "{path}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(parameter), "{path}: {detail}");
    }
    // A value that parses but is out of bounds stays a validation failure.
    let body = assert_problem(
        app.call(Method::GET, "/api/v1/drafts?limit=101", &app.user)
            .await,
        422,
    )
    .await;
    assert!(body["errors"]["limit"].is_array(), "{body}");
}

#[tokio::test]
async fn text_that_would_disguise_a_title_is_refused_naming_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let clean = json!({"topic": "Clean topic", "description": "Kept"});
    let draft = app.new_draft(&app.user, clean.clone()).await;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    let refused = [
        ("topic", json!("Rust \u{202E}nohtyP")),
        ("topic", json!("Rust\u{B}basics")),
        ("topic", json!("Rust\u{85}basics")),
        ("topic", json!("Rust\u{2069}basics")),
        ("topic", json!("one\ntwo")),
        ("topic", json!("one\ttwo")),
        ("writingStyle", json!("plain\u{2028}words")),
        ("email", json!("a@b.ru\r\n")),
        ("language", json!("ru\n")),
        ("formats", json!(["video", "text\n"])),
        ("description", json!("about \u{202A}this")),
        ("targetAudience", json!("x\u{2029}y")),
        ("learningOutcomes", json!("a\rb")),
    ];
    for (field, value) in refused {
        let response = app
            .patch_draft(&app.user, &id, json!({ field: value }), None)
            .await;
        let body = assert_problem(response, 422).await;
        assert!(body["errors"][field].is_array(), "{field} {value}: {body}");
        let response = app
            .create_draft(&app.user, json!({"formData": { field: value }}))
            .await;
        assert_problem(response, 422).await;
    }
    assert_eq!(app.draft(&app.user, &id).await, draft, "nothing changed");

    // Hebrew and Arabic titles keep their marks; long text keeps its lines.
    let kept = json!({
        "topic": "קורס Rust\u{200F} למתחילים\u{200E}",
        "writingStyle": "دورة\u{061C} عملية",
        "description": "First line\n\tindented",
        "learningOutcomes": "One\nTwo",
    });
    let response = app.patch_draft(&app.user, &id, kept.clone(), None).await;
    assert_eq!(response.status(), 200);
    let submitted = app.action_json(&app.user, &id, "submit", 201).await;
    let course = app.course_of(&app.user, &submitted).await;
    assert_eq!(course["title"], kept["topic"]);
}

#[tokio::test]
async fn a_topic_saved_before_the_rule_fails_submit_and_titles_no_course() {
    let app = TestApp::spawn().await;
    let id = app
        .draft_id(&app.user, json!({"topic": "Clean topic"}))
        .await;
    let mut redis = app.redis().await;
    let key = draft_key(&app.user, &id);
    let Some(mut record) = Record::read(&mut redis, &key).await else {
        panic!("the draft's record");
    };
    record.set_field("topic", &json!("Rust \u{202E}nohtyP").to_string());
    record.write(&mut redis, &key).await;

    let problem = assert_problem(app.draft_action(&app.user, &id, "submit").await, 422).await;
    assert!(problem["errors"]["topic"].is_array(), "{problem}");
    assert_eq!(app.course_count().await, 0);
    let materialized = app.action_json(&app.user, &id, "materialize", 201).await;
    let course = app.course_of(&app.user, &materialized).await;
    assert_eq!(course["title"], "Untitled course");
}

/// PATCHes `form` into draft `id` with `If-Match: "<if_match>"`.
async fn save(app: &TestApp, id: &str, form: Value, if_match: u64) -> reqwest::Response {
    app.patch_draft(&app.user, id, form, Some(&format!("\"{if_match}\"")))
        .await
}

/// Merge patches that leave a draft of [`NOOP_FORM`] as it is.
fn no_ops() -> [Value; 5] {
    [
        json!({}),
        json!({"topic": "Rust"}),
        json!({"formats": ["video", "quiz"]}),
        json!({"estimatedLessons": 3, "email": null}),
        json!({"description": "a\nb", "topic": "Rust", "language": null}),
    ]
}

const NOOP_FORM: &str = r#"{"topic": "Rust", "formats": ["video", "quiz"], "estimatedLessons": 3, "description": "a\nb"}"#;

#[tokio::test]
async fn a_save_that_changes_nothing_keeps_the_version_and_announces_nothing() {
    let app = TestApp::spawn().await;
    let form: Value = serde_json::from_str(NOOP_FORM).unwrap_or_default();
    let draft = app.new_draft(&app.user, form.clone()).await;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    let (mut stream, hello) = app.stream(&app.user, &id).await;
    assert_eq!(hello["version"], 1);
    let key = draft_key(&app.user, &id);
    let mut redis = app.redis().await;

    let mut expires = draft["expiresAt"].as_str().unwrap_or_default().to_owned();
    for patch in no_ops() {
        // As if the draft had sat untouched for almost a day.
        let _: () = redis.pexpire(&key, 5_000).await.unwrap_or(());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let response = save(&app, &id, patch.clone(), 1).await;
        assert_eq!(response.status(), 200, "{patch}");
        assert_eq!(response.headers()["etag"], "\"1\"", "{patch}");
        let saved: Value = response.json().await.unwrap_or_default();
        assert_eq!(saved["version"], 1, "{patch}");
        assert_eq!(saved["updatedAt"], draft["updatedAt"], "{patch}");
        assert_eq!(saved["formData"], form, "{patch}");
        let now_expires = saved["expiresAt"].as_str().unwrap_or_default().to_owned();
        assert!(now_expires > expires, "{patch}: the TTL is refreshed");
        expires = now_expires;
        let ttl: i64 = redis.pttl(&key).await.unwrap_or(0);
        assert!(ttl > 86_000_000, "{patch}: ttl {ttl}");
    }
    // Minimal answers too; and If-Match is checked first: a stale no-op is a 412.
    let minimal = app
        .request(Method::PATCH, &format!("/api/v1/drafts/{id}"), &app.user)
        .header("content-type", "application/merge-patch+json")
        .header("prefer", "return=minimal")
        .body(r#"{"formData": {"topic": "Rust"}}"#)
        .send()
        .await;
    let minimal = minimal.expect("an answer");
    assert_eq!(minimal.status(), 204);
    assert_eq!(minimal.headers()["etag"], "\"1\"");
    let stale = assert_problem(save(&app, &id, json!({}), 7).await, 412).await;
    assert_eq!(stale["currentVersion"], 1);

    let response = save(&app, &id, json!({"topic": "Go"}), 1).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let saved: Value = response.json().await.unwrap_or_default();
    assert!(saved["updatedAt"].as_str() > draft["updatedAt"].as_str());
    let (event, data) = stream.event().await;
    assert_eq!(event, "saved");
    assert_eq!(
        data,
        json!({"type": "saved", "version": 2, "patch": {"topic": "Go"}}),
        "the first event is the first change"
    );
}

#[tokio::test]
async fn in_degraded_mode_a_save_that_changes_nothing_keeps_the_version_too() {
    let port = crate::servers::free_port();
    let app = TestApp::spawn_with(|c| {
        c.redis_url = format!("redis://127.0.0.1:{port}");
        c.store_timeout_ms = 500;
    })
    .await;
    let form: Value = serde_json::from_str(NOOP_FORM).unwrap_or_default();
    let draft = app.new_draft(&app.user, form.clone()).await;
    assert_eq!(draft["store"], "postgres");
    let id = draft["id"].as_str().unwrap_or_default().to_owned();

    let mut expires = draft["expiresAt"].as_str().unwrap_or_default().to_owned();
    for patch in no_ops() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let response = save(&app, &id, patch.clone(), 1).await;
        assert_eq!(response.status(), 200, "{patch}");
        assert_eq!(response.headers()["etag"], "\"1\"", "{patch}");
        let saved: Value = response.json().await.unwrap_or_default();
        assert_eq!(saved["updatedAt"], draft["updatedAt"], "{patch}");
        assert_eq!(saved["formData"], form, "{patch}");
        let now_expires = saved["expiresAt"].as_str().unwrap_or_default().to_owned();
        assert!(now_expires > expires, "{patch}: the TTL is refreshed");
        expires = now_expires;
    }
    let read = app.draft(&app.user, &id).await;
    assert_eq!(read["updatedAt"], draft["updatedAt"]);
    assert_eq!(read["expiresAt"].as_str(), Some(expires.as_str()));
    assert_problem(save(&app, &id, json!({}), 7).await, 412).await;

    let response = save(&app, &id, json!({"topic": "Go"}), 1).await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let saved: Value = response.json().await.unwrap_or_default();
    assert!(saved["updatedAt"].as_str() > draft["updatedAt"].as_str());
    assert_eq!(
        app.draft(&app.user, &id).await["updatedAt"],
        saved["updatedAt"]
    );
}
