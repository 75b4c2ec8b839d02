//! What a resumable upload may cost (invariant 12): a drip of small PATCHes
//! is held to the write rate while a whole-file or MiB-chunked client never
//! meets it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, new_user, TestApp};
use crate::tus_steps::header;

const MIB: usize = 1 << 20;

/// The write rate of these tests: the draft and the upload's creation spend
/// two of it.
const WRITES: u32 = 4;

async fn app_with_write_rate() -> TestApp {
    TestApp::spawn_with(|c| c.write_rate_limit = WRITES).await
}

#[tokio::test]
async fn chunks_of_a_mib_or_the_whole_file_never_meet_the_write_rate() {
    let app = app_with_write_rate().await;
    let user = new_user();
    let draft = app.new_draft(&user, json!({})).await;
    let draft = draft["id"].as_str().unwrap();
    // 3.5 MiB in PATCHes of 1 MiB: three store 1 MiB, the last finishes.
    let content = vec![b'a'; 3 * MIB + MIB / 2];
    let url = app
        .tus_upload_url(&user, draft, content.len(), "big.txt", "text/plain")
        .await;
    let last = app.tus_send(&user, &url, &content, MIB).await;
    assert_eq!(last.status(), 204);
    assert!(last.headers().contains_key("draftd-file-id"));
    // Whole files, each in one PATCH, up to the rate's last write.
    let url = app
        .tus_upload_url(&user, draft, 10, "whole.txt", "text/plain")
        .await;
    let whole = app.tus_patch(&user, &url, 0, b"0123456789").await;
    assert_eq!(whole.status(), 204);
    assert!(whole.headers().contains_key("draftd-file-id"));
    // Only the creations spent the rate: the fourth write goes, the fifth not.
    let create = app
        .tus_create(&user, draft, 10, "more.txt", "text/plain")
        .await;
    assert_eq!(create.status(), 201);
    let create = app
        .tus_create(&user, draft, 10, "more.txt", "text/plain")
        .await;
    assert_problem(create, 429).await;
}

#[tokio::test]
async fn a_drip_of_small_patches_and_refused_ones_meets_the_write_rate_before_storing() {
    let app = app_with_write_rate().await;
    let user = new_user();
    let draft = app.new_draft(&user, json!({})).await;
    let draft = draft["id"].as_str().unwrap();
    let url = app
        .tus_upload_url(&user, draft, 100, "drip.txt", "text/plain")
        .await;
    // Two writes spent; a refused PATCH (offset mismatch) costs one, a
    // PATCH storing one byte another.
    let mismatch = app.tus_patch(&user, &url, 7, b"a").await;
    assert_problem(mismatch, 409).await;
    let one = app.tus_patch(&user, &url, 0, b"a").await;
    assert_eq!(one.status(), 204);
    assert_eq!(header(&one, "upload-offset"), "1");

    // Spent: the next PATCH is refused before it stores anything, however
    // much it carries.
    let refused = app.tus_patch(&user, &url, 1, b"b").await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 1);
    let malformed = app
        .request(Method::PATCH, &url, &user)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .body("b")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 1);
}

#[tokio::test]
async fn patches_refused_by_their_headers_count_against_the_write_rate() {
    let app = app_with_write_rate().await;
    let user = new_user();
    let draft = app.new_draft(&user, json!({})).await;
    let draft = draft["id"].as_str().unwrap();
    let url = app
        .tus_upload_url(&user, draft, 100, "drip.txt", "text/plain")
        .await;
    for _ in 0..2 {
        // No Upload-Offset: a 400 that counts.
        let malformed = app
            .request(Method::PATCH, &url, &user)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .body("b")
            .send()
            .await
            .unwrap();
        assert_problem(malformed, 400).await;
    }
    let spent = app.tus_patch(&user, &url, 0, &[b'a'; 100]).await;
    assert_problem(spent, 429).await;
    assert_eq!(app.tus_offset(&user, &url).await, 0);
}
