//! Invariant 7: bad input gets a clear 4xx problem and changes nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, TestApp};

struct Case {
    name: &'static str,
    content_type: &'static str,
    body: String,
    status: u16,
    /// Fields the problem's `errors` must name.
    fields: &'static [&'static str],
}

fn cases(limit: usize) -> Vec<Case> {
    let case = |name, content_type, body: &str, status, fields| Case {
        name,
        content_type,
        body: body.to_owned(),
        status,
        fields,
    };
    vec![
        case(
            "malformed JSON",
            "application/json",
            r#"{"formData": {"topic": "x""#,
            400,
            &[],
        ),
        case("not an object", "application/json", "[1, 2]", 400, &[]),
        case("a bare string", "application/json", r#""topic""#, 400, &[]),
        case(
            "wrong content type",
            "text/plain",
            r#"{"formData": {}}"#,
            415,
            &[],
        ),
        case(
            "formData not an object",
            "application/json",
            r#"{"formData": "topic"}"#,
            422,
            &["formData"],
        ),
        case(
            "unknown member",
            "application/json",
            r#"{"formdata": {}}"#,
            422,
            &["formdata"],
        ),
        case(
            "unknown field",
            "application/json",
            r#"{"formData": {"tpoic": "Rust"}}"#,
            422,
            &["tpoic"],
        ),
        case(
            "wrong types",
            "application/json",
            r#"{"formData": {"topic": 7, "estimatedLessons": "12", "formats": "video", "lessonDuration": 1.5}}"#,
            422,
            &["estimatedLessons", "formats", "lessonDuration", "topic"],
        ),
        case(
            "out of bounds",
            "application/json",
            r#"{"formData": {"estimatedSections": 31, "estimatedLessons": 0, "formats": ["a","b","c","d","e","f","g","h","i","j","k"]}}"#,
            422,
            &["estimatedLessons", "estimatedSections", "formats"],
        ),
        Case {
            name: "too long",
            content_type: "application/json",
            body: json!({"formData": {"topic": "t".repeat(201), "description": "d".repeat(5001)}})
                .to_string(),
            status: 422,
            fields: &["description", "topic"],
        },
        Case {
            name: "body over the limit",
            content_type: "application/json",
            body: json!({"formData": {"description": "d".repeat(limit)}}).to_string(),
            status: 413,
            fields: &[],
        },
    ]
}

async fn assert_refused(app: &TestApp, method: Method, path: &str, case: &Case) {
    let response = app
        .request(method.clone(), path, &app.user)
        .header("content-type", case.content_type)
        .body(case.body.clone())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, case.status).await;
    let named: Vec<&str> = problem["errors"]
        .as_object()
        .map(|errors| errors.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(named, case.fields, "{method} {}: {problem}", case.name);
}

#[tokio::test]
async fn bad_autosaves_are_refused_and_change_nothing() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "Kept as it is"})).await;
    let id = draft["id"].as_str().unwrap();
    let path = format!("/api/v1/drafts/{id}");

    for case in cases(app.config.max_body_bytes) {
        assert_refused(&app, Method::PATCH, &path, &case).await;
    }
    // A mix of good and bad fields is refused whole.
    let mixed = app
        .patch_draft(
            &app.user,
            id,
            json!({"description": "ok", "topic": 1}),
            None,
        )
        .await;
    assert_problem(mixed, 422).await;

    assert_eq!(app.draft(&app.user, id).await, draft);
}

#[tokio::test]
async fn bad_creates_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    for case in cases(app.config.max_body_bytes) {
        assert_refused(&app, Method::POST, "/api/v1/drafts", &case).await;
    }
    assert_eq!(
        app.get_json(&app.user, "/api/v1/drafts").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 100).await;
    let big = app
        .create_draft(
            &app.user,
            json!({"formData": {"description": "d".repeat(100)}}),
        )
        .await;
    assert_problem(big, 413).await;
    let small = app
        .create_draft(&app.user, json!({"formData": {"topic": "fits"}}))
        .await;
    assert_eq!(small.status(), 201);
}

#[tokio::test]
async fn malformed_ids_unknown_routes_and_methods_get_problems() {
    let (app, draft) = TestApp::with_draft(json!({"topic": "untouched"})).await;
    for path in [
        "/api/v1/drafts/not-a-uuid",
        "/api/v1/drafts/123",
        "/api/v1/nothing-here",
    ] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let response = app
                .request(method, path, &app.user)
                .json(&json!({"formData": {"topic": "x"}}))
                .send()
                .await
                .unwrap();
            assert_problem(response, 404).await;
        }
    }
    let put = app.call(Method::PUT, "/api/v1/drafts", &app.user).await;
    assert_problem(put, 405).await;
    assert_eq!(
        app.draft(&app.user, draft["id"].as_str().unwrap()).await,
        draft
    );
}
