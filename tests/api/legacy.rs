//! A draft still in the layout the record replaced (a hash per draft): read
//! through the read script where GET refuses it (WRONGTYPE), listed, and
//! converted by its next write.

use deadpool_redis::redis::AsyncCommands;
use draftd::stores::redis::keys;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{draft_key, TestApp};
use crate::records::Record;

#[tokio::test]
async fn a_draft_in_the_hash_layout_is_read_listed_and_converted_by_its_next_write() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4().to_string();
    let key = draft_key(&app.user, &id);
    let mut redis = app.redis().await;
    let now = chrono::Utc::now().timestamp_millis();
    let expires = now + 86_400_000;
    let fields = [
        ("org", app.user.org.to_string()),
        ("v", "3".to_owned()),
        ("st", "open".to_owned()),
        ("ca", now.to_string()),
        ("ua", now.to_string()),
        ("ea", expires.to_string()),
        ("f:topic", "\"Legacy topic\"".to_owned()),
    ];
    let () = redis.hset_multiple(&key, &fields).await.unwrap();
    let () = redis.pexpire(&key, 86_400_000).await.unwrap();
    let () = redis
        .zadd(keys::index_key(app.user.id.into()), &id, expires)
        .await
        .unwrap();

    let draft = app.draft(&app.user, &id).await;
    assert_eq!(draft["version"], 3);
    assert_eq!(draft["formData"], json!({"topic": "Legacy topic"}));
    let list = &app.get_json(&app.user, "/api/v1/drafts").await["items"];
    assert_eq!(list[0]["id"], id.as_str(), "{list}");

    let saved = app
        .patch_draft(&app.user, &id, json!({"language": "en"}), None)
        .await;
    assert_eq!(saved.status(), 200);
    let record = Record::read(&mut redis, &key).await.expect("a record now");
    assert_eq!(record.get("v"), "4");
    let draft = app.draft(&app.user, &id).await;
    assert_eq!(
        draft["formData"],
        json!({"topic": "Legacy topic", "language": "en"})
    );
}
