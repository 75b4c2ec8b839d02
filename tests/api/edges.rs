//! Protocol edges found by real clients and an audit (issue 24): each test
//! here failed on the code before its fix.

use reqwest::Method;

use crate::helpers::{assert_problem, service_user, TestApp};

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
