//! Invariant 11: a draft or course belongs to the pair (user, organization) of
//! the token that made it. The same user with another organization, or with
//! none, reaches nothing of it; admin routes need only the service role.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{token_for, TestApp, TestUser};
use draftd::http::auth::Claims;

/// The same user, with another organization in its token (or none).
fn same_user_with_org(user: &TestUser, org: Option<uuid::Uuid>) -> TestUser {
    token_for(Claims {
        sub: Some(user.id),
        org_id: org,
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    })
}

/// Every user route on the owner's draft and course, as `caller`.
async fn every_route(
    app: &TestApp,
    caller: &TestUser,
    draft: &str,
    course: &str,
    file: &str,
) -> Vec<(String, u16)> {
    let routes = [
        (Method::GET, "/api/v1/drafts".to_owned()),
        (Method::GET, format!("/api/v1/drafts/{draft}")),
        (Method::PATCH, format!("/api/v1/drafts/{draft}")),
        (Method::POST, format!("/api/v1/drafts/{draft}/materialize")),
        (Method::POST, format!("/api/v1/drafts/{draft}/submit")),
        (Method::GET, format!("/api/v1/drafts/{draft}/files")),
        (
            Method::DELETE,
            format!("/api/v1/drafts/{draft}/files/{file}"),
        ),
        (Method::GET, format!("/api/v1/courses/{course}")),
        (
            Method::GET,
            format!("/api/v1/courses/{course}/files/{file}"),
        ),
        (Method::DELETE, format!("/api/v1/courses/{course}")),
        (
            Method::DELETE,
            format!("/api/v1/courses/{course}?permanent=true"),
        ),
        (Method::POST, format!("/api/v1/courses/{course}/restore")),
        (Method::DELETE, format!("/api/v1/drafts/{draft}")),
    ];
    let mut answers = Vec::new();
    for (method, path) in routes {
        let response = app
            .request(method.clone(), &path, caller)
            .json(&json!({"formData": {"topic": "taken over"}}))
            .send()
            .await
            .unwrap();
        answers.push((format!("{method} {path}"), response.status().as_u16()));
    }
    let upload = app.upload_text(caller, draft, "mine.txt", b"mine").await;
    answers.push(("upload".into(), upload.status().as_u16()));
    answers
}

/// A draft with a file (so a course exists), as the app's user.
async fn draft_with_course(app: &TestApp) -> (String, String, String) {
    let id = app.draft_id(&app.user, json!({"topic": "Ours"})).await;
    let file: Value = app
        .upload_text(&app.user, &id, "plan.txt", b"plan")
        .await
        .json()
        .await
        .unwrap();
    let course = file["courseId"].as_str().unwrap().to_owned();
    (id, course, file["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_same_user_in_another_organization_reaches_nothing() {
    let app = TestApp::spawn().await;
    let (draft, course, file) = draft_with_course(&app).await;
    let elsewhere = same_user_with_org(&app.user, Some(uuid::Uuid::new_v4()));

    for (route, status) in every_route(&app, &elsewhere, &draft, &course, &file).await {
        if route == "GET /api/v1/drafts" {
            assert_eq!(status, 200, "{route}");
        } else {
            assert_eq!(status, 404, "{route}");
        }
    }
    let listed: Value = app.get_json(&elsewhere, "/api/v1/drafts").await;
    assert_eq!(
        listed["items"],
        json!([]),
        "not listed in another organization"
    );

    // Nothing changed for the owner.
    let own = app.draft(&app.user, &draft).await;
    assert_eq!(own["formData"]["topic"], "Ours");
    assert_eq!(own["version"], 1);
    let course_json = app
        .get_json(&app.user, &format!("/api/v1/courses/{course}"))
        .await;
    assert_eq!(course_json["files"].as_array().unwrap().len(), 1);
    assert_eq!(app.course_count().await, 1);
}

#[tokio::test]
async fn a_token_without_an_organization_is_refused_on_every_user_route() {
    let app = TestApp::spawn().await;
    let (draft, course, file) = draft_with_course(&app).await;
    let no_org = same_user_with_org(&app.user, None);

    for (route, status) in every_route(&app, &no_org, &draft, &course, &file).await {
        assert_eq!(status, 403, "{route}");
    }
    assert_eq!(app.draft(&app.user, &draft).await["version"], 1);
    assert_eq!(app.file_row_count().await, 1);
}

#[tokio::test]
async fn a_degraded_mode_draft_belongs_to_its_organization_too() {
    // Redis refuses connections: drafts open in Postgres.
    let app = TestApp::spawn_with(|c| c.redis_url = "redis://127.0.0.1:1".into()).await;
    let draft = app.new_draft(&app.user, json!({"topic": "Outage"})).await;
    assert_eq!(draft["store"], "postgres");
    let id = draft["id"].as_str().unwrap();
    let elsewhere = same_user_with_org(&app.user, Some(uuid::Uuid::new_v4()));

    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let response = app
            .request(method.clone(), &format!("/api/v1/drafts/{id}"), &elsewhere)
            .json(&json!({"formData": {"topic": "taken over"}}))
            .send()
            .await
            .unwrap();
        // Redis is down, so an id it cannot rule out answers 503, never 2xx.
        assert!(
            [404, 503].contains(&response.status().as_u16()),
            "{method}: {}",
            response.status()
        );
    }
    let own = app.draft(&app.user, id).await;
    assert_eq!(own["formData"]["topic"], "Outage");
    assert_eq!(own["version"], 1);
}

#[tokio::test]
async fn admin_routes_take_a_service_token_without_a_subject() {
    let app = TestApp::spawn().await;
    let service = token_for(Claims {
        sub: None,
        org_id: None,
        role: Some("service_role".into()),
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    });
    let response = app.call(Method::GET, "/api/v1/admin/stats", &service).await;
    assert_eq!(response.status(), 200);

    // Without the role, no subject is no identity at all.
    let nobody = token_for(Claims {
        sub: None,
        org_id: Some(uuid::Uuid::new_v4()),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    });
    let response = app.call(Method::GET, "/api/v1/drafts", &nobody).await;
    assert_eq!(response.status(), 401);
}
