//! The Lua scripts, one Redis Function library called by FCALL: a Redis that
//! has forgotten them (a restart without persistence, a FUNCTION FLUSH)
//! answers that the function is not found, and the call loads the library
//! and runs it, unseen by the client.

use deadpool_redis::redis::{self, aio::MultiplexedConnection};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{ScratchDir, TestApp};
use crate::servers::{free_port, redis_server};

async fn forget_scripts(redis: &mut MultiplexedConnection) {
    let () = redis::cmd("FUNCTION")
        .arg("FLUSH")
        .query_async(redis)
        .await
        .expect("FUNCTION FLUSH");
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(redis)
        .await
        .expect("SCRIPT FLUSH");
}

#[tokio::test]
async fn every_call_works_after_redis_forgot_the_scripts() {
    // A Redis of the test's own: a flush of the shared one would reach others.
    let port = free_port();
    let dir = ScratchDir::new("scripts");
    let _redis = redis_server(port, &dir, &[]).await;
    let app = TestApp::spawn_with(|c| c.redis_url = format!("redis://127.0.0.1:{port}")).await;
    let mut redis = app.redis().await;

    forget_scripts(&mut redis).await;
    let id = app.draft_id(&app.user, json!({"topic": "Kept"})).await;
    forget_scripts(&mut redis).await;
    let saved = app
        .patch_draft(&app.user, &id, json!({"language": "en"}), Some("\"1\""))
        .await;
    assert_eq!(saved.status(), 200);
    forget_scripts(&mut redis).await;
    let list = &app.get_json(&app.user, "/api/v1/drafts").await["items"];
    assert_eq!(list[0]["version"], 2, "{list}");
    forget_scripts(&mut redis).await;
    let discarded = app
        .call(Method::DELETE, &format!("/api/v1/drafts/{id}"), &app.user)
        .await;
    assert_eq!(discarded.status(), 204);
    assert_eq!(app.get_draft(&app.user, &id).await.status(), 410);
}
