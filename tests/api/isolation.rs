//! Invariant 5: nobody reaches another user's draft; a foreign id answers
//! exactly like a missing one.

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{new_user, TestApp};

#[tokio::test]
async fn another_users_draft_is_404_on_every_route_and_not_listed() {
    let app = TestApp::spawn().await;
    let owner = &app.user;
    let intruder = new_user();
    let draft = app.new_draft(owner, json!({"topic": "mine"})).await;
    let id = draft["id"].as_str().unwrap();
    let path = format!("/api/v1/drafts/{id}");
    let missing_path = format!("/api/v1/drafts/{}", Uuid::new_v4());

    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let mut bodies = Vec::new();
        for path in [&path, &missing_path] {
            let response = app
                .request(method.clone(), path, &intruder)
                .header("if-match", "\"1\"")
                .json(&json!({"formData": {"topic": "yours now"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "{method} {path}");
            bodies.push(response.json::<Value>().await.unwrap());
        }
        assert_eq!(
            bodies[0], bodies[1],
            "{method}: a foreign id must look missing"
        );
    }

    app.assert_no_drafts(&intruder).await;
    assert_eq!(
        app.draft(owner, id).await,
        draft,
        "the owner's draft is untouched"
    );
}

#[tokio::test]
async fn another_users_course_files_and_draft_actions_are_404() {
    let app = TestApp::spawn().await;
    let owner = &app.user;
    let intruder = new_user();
    let id = &app
        .draft_id(owner, json!({"topic": "Private course"}))
        .await;
    let file: Value = app
        .upload_text(owner, id, "secret.txt", b"secret")
        .await
        .json()
        .await
        .unwrap();
    let (course_id, file_id) = (
        file["courseId"].as_str().unwrap(),
        file["id"].as_str().unwrap(),
    );
    let own_id = &app.draft_id(&intruder, json!({"topic": "Mine"})).await;
    let other = Uuid::new_v4();

    // Each foreign target beside a missing one: both must answer alike.
    let pairs = [
        (
            Method::POST,
            format!("/api/v1/drafts/{id}/materialize"),
            format!("/api/v1/drafts/{other}/materialize"),
        ),
        (
            Method::POST,
            format!("/api/v1/drafts/{id}/submit"),
            format!("/api/v1/drafts/{other}/submit"),
        ),
        (
            Method::GET,
            format!("/api/v1/drafts/{id}/files"),
            format!("/api/v1/drafts/{other}/files"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/drafts/{id}/files/{file_id}"),
            format!("/api/v1/drafts/{other}/files/{file_id}"),
        ),
        (
            Method::DELETE,
            format!("/api/v1/drafts/{own_id}/files/{file_id}"),
            format!("/api/v1/drafts/{own_id}/files/{other}"),
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}"),
            format!("/api/v1/courses/{other}"),
        ),
        (
            Method::GET,
            format!("/api/v1/courses/{course_id}/files/{file_id}"),
            format!("/api/v1/courses/{other}/files/{file_id}"),
        ),
    ];
    for (method, foreign, missing) in &pairs {
        let mut bodies = Vec::new();
        for path in [foreign, missing] {
            let response = app.call(method.clone(), path, &intruder).await;
            assert_eq!(response.status(), 404, "{method} {path}");
            bodies.push(response.json::<Value>().await.unwrap());
        }
        assert_eq!(bodies[0], bodies[1], "{method} {foreign}");
    }
    let upload = app.upload_text(&intruder, id, "mine.txt", b"x").await;
    assert_eq!(upload.status(), 404);

    assert_eq!(
        app.course_count().await,
        1,
        "the intruder created no course"
    );
    assert_eq!(app.file_row_count().await, 1);
    let download = format!("/api/v1/courses/{course_id}/files/{file_id}");
    let response = app.call(Method::GET, &download, owner).await;
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"secret");
}
