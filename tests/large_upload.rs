//! A 200 MB upload streams through the service: it completes, arrives intact,
//! and the process's peak memory stays far below the file's size. Its own test
//! binary, so that no other test shares the process while memory is measured.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use helpers::TestApp;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 3200; // 200 MiB

/// Peak resident memory of this process (server and client), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_200_mb_upload_streams_with_flat_memory() {
    let app = TestApp::spawn_with(|c| {
        c.max_upload_bytes = 256 * 1024 * 1024;
        // The harness's short deadline keeps erases quick; this body is large.
        c.body_deadline_secs = 600;
    })
    .await;
    let draft = app
        .new_draft(&app.user, json!({"topic": "Big files"}))
        .await;
    let id = draft["id"].as_str().unwrap();

    // Warm up the upload path, then measure the peak across the big one.
    let warm = app
        .upload(&app.user, id, "warm.txt", "text/plain", vec![b'w'; CHUNK])
        .await;
    assert_eq!(warm.status(), 201);
    let before = peak_rss_kib();

    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let sent = hasher.clone();
    // Text, as the file claims to be, checked as UTF-8 over its whole length:
    // a line of 2-, 3- and 4-byte code points whose length (78 bytes) does not
    // divide the chunk's, so that chunks cut code points at every offset.
    let line = "Lesson 1: ownership — владение — 소유권 — 🦀🦀 borrowing\n".as_bytes();
    let text: Vec<u8> = line.iter().copied().cycle().take(CHUNK * 2).collect();
    let body = stream::iter(0..CHUNKS).map(move |i| {
        let start = (i * CHUNK) % line.len();
        let chunk = Bytes::copy_from_slice(&text[start..start + CHUNK]);
        sent.lock().unwrap().update(&chunk);
        Ok::<_, std::io::Error>(chunk)
    });
    let total = (CHUNK * CHUNKS) as u64;
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), total)
            .file_name("big.txt")
            .mime_str("text/plain")
            .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = app.post_files(&app.user, id, form).await;
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();

    let after = peak_rss_kib();
    let growth_mib = after.saturating_sub(before) / 1024;
    println!(
        "upload of {} MiB: peak RSS {} MiB before, {} MiB after (+{growth_mib} MiB)",
        total / 1024 / 1024,
        before / 1024,
        after / 1024
    );
    let expected = hex::encode(hasher.lock().unwrap().clone().finalize());
    assert_eq!(file["sizeBytes"], total);
    assert_eq!(file["sha256"], expected);
    // Holding the file would add 200 MiB; streaming adds a few parts' worth.
    assert!(growth_mib < 64, "peak RSS grew by {growth_mib} MiB");
}
