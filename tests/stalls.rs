//! Stalled clients (invariant 12): a body that stops arriving is cut off
//! after the idle timeout; the upload's staging bytes are removed and the
//! service's counters of bodies and uploads in flight return to zero. Its own
//! test binary: those counters are the process's, and no other test's
//! requests may share them.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "api/steps.rs"]
#[allow(dead_code)]
mod steps;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{wait_until, TestApp};
use crate::steps::unfinished_upload;

/// Sends `head` and the first `sent` bytes of a body announced as `length`,
/// then stops sending and reads the answer; `None` if the service closed
/// without one.
async fn stall(app: &TestApp, head: String, body: &[u8]) -> Option<String> {
    let address = app.address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(address).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    // Bounded, so a service that never cuts the body off fails the test.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the stalled request was still held after 20 s"
    );
    (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
}

/// The value of an unlabelled gauge in the metrics text (absent counts as 0).
async fn gauge(app: &TestApp, name: &str) -> f64 {
    let text = app.get_public("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn counters_settle(app: &TestApp) {
    wait_until(
        "no body is being read and no upload is in flight",
        || async {
            gauge(app, "draftd_request_bodies_reading").await == 0.0
                && gauge(app, "draftd_uploads_in_flight").await == 0.0
        },
    )
    .await;
}

#[tokio::test]
async fn a_half_sent_upload_is_cut_off_and_leaves_no_bytes() {
    let app = TestApp::spawn_with(|c| c.body_idle_timeout_secs = 1).await;
    let draft = app.draft_id(&app.user, serde_json::json!({})).await;
    let (head, body) = unfinished_upload(&draft, &app.user.token, 6 << 20);
    // The bytes sent reach storage (a staging file), then nothing more comes.
    let answer = stall(&app, head, &body).await;
    if let Some(answer) = answer {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(
            answer.contains("urn:draftd:problem:body-timeout"),
            "{answer}"
        );
    }
    counters_settle(&app).await;
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_eq!(app.course_count().await, 0);
}

#[tokio::test]
async fn a_half_sent_json_body_is_cut_off() {
    let app = TestApp::spawn_with(|c| c.body_idle_timeout_secs = 1).await;
    let head = format!(
        "POST /api/v1/drafts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n",
        app.user.token
    );
    let answer = stall(&app, head, br#"{"formData": {"topic": "#).await;
    let answer = answer.expect("an answer to a client still there");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    counters_settle(&app).await;
    app.assert_no_drafts(&app.user).await;
}
