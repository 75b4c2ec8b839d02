//! Protocol edges found by real clients and an audit (issue 24): each test
//! here failed on the code before its fix.

use reqwest::Method;
use serde_json::json;

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
