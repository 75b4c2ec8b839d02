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

    let listed: Value = app
        .request(Method::GET, "/api/v1/drafts", &intruder)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    assert_eq!(
        app.draft(owner, id).await,
        draft,
        "the owner's draft is untouched"
    );
}
