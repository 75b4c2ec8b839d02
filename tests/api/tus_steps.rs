//! Steps of the resumable-upload tests: tus requests as a client sends them.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, Response};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use deadpool_redis::redis;

use crate::helpers::{base_config, TestApp, TestUser};

pub const TUS: &str = "1.0.0";

/// `Upload-Metadata` for a name and a type.
pub fn metadata(name: &str, filetype: &str) -> String {
    format!(
        "filename {},filetype {}",
        STANDARD.encode(name),
        STANDARD.encode(filetype)
    )
}

impl TestApp {
    /// POSTs a tus creation for `length` bytes of `name` (`filetype`).
    pub async fn tus_create(
        &self,
        user: &TestUser,
        draft: &str,
        length: usize,
        name: &str,
        filetype: &str,
    ) -> Response {
        self.request(
            Method::POST,
            &format!("/api/v1/drafts/{draft}/uploads"),
            user,
        )
        .header("tus-resumable", TUS)
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata(name, filetype))
        .send()
        .await
        .expect("request sent")
    }

    /// A 10-byte upload to `draft` with its first 5 bytes stored: unfinished.
    pub async fn half_sent_upload(&self, user: &TestUser, draft: &str) -> String {
        let url = created_url(
            self.tus_create(user, draft, 10, "a.txt", "text/plain")
                .await,
        );
        assert_eq!(self.tus_patch(user, &url, 0, b"01234").await.status(), 204);
        url
    }

    /// PATCHes `bytes` at `offset`.
    pub async fn tus_patch(
        &self,
        user: &TestUser,
        url: &str,
        offset: usize,
        bytes: &[u8],
    ) -> Response {
        self.request(Method::PATCH, url, user)
            .header("tus-resumable", TUS)
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("request sent")
    }

    /// Moves every recorded S3 upload's start two hours back, past the
    /// orphan sweep's grace period.
    pub async fn age_recorded_uploads(&self) {
        let aged = "UPDATE multipart_uploads SET started_at = now() - interval '2 hours'";
        self.db
            .execute(aged, &[])
            .await
            .expect("recorded uploads aged");
    }

    pub async fn tus_call(&self, method: Method, user: &TestUser, url: &str) -> Response {
        self.request(method, url, user)
            .header("tus-resumable", TUS)
            .send()
            .await
            .expect("request sent")
    }

    /// The upload's offset, by HEAD (asserting 200).
    pub async fn tus_offset(&self, user: &TestUser, url: &str) -> u64 {
        let head = self.tus_call(Method::HEAD, user, url).await;
        assert_eq!(head.status(), 200, "HEAD {url}");
        header(&head, "upload-offset").parse().unwrap()
    }

    /// A PATCH of all of `content` at offset 0 of `url`, as the app's user,
    /// over a raw connection that has sent its head and the first `sent`
    /// bytes: the connection, open, to close or leave.
    pub async fn raw_patch(&self, url: &str, content: &[u8], sent: usize) -> TcpStream {
        let address = self.address.trim_start_matches("http://");
        let mut socket = TcpStream::connect(address)
            .await
            .expect("service reachable");
        let head = format!(
            "PATCH {url} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
             Tus-Resumable: {TUS}\r\nUpload-Offset: 0\r\n\
             Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
            self.user.token,
            content.len()
        );
        socket.write_all(head.as_bytes()).await.expect("head sent");
        socket
            .write_all(&content[..sent])
            .await
            .expect("bytes sent");
        socket.flush().await.expect("bytes sent");
        socket
    }

    /// PATCHes the rest of `content` from `offset` as the app's user,
    /// asserting it finishes the upload and that the course of `draft`
    /// holds `content` (by its SHA-256) as its first file.
    pub async fn finish_from(&self, draft: &str, url: &str, content: &[u8], offset: usize) {
        let rest = self
            .tus_patch(&self.user, url, offset, &content[offset..])
            .await;
        assert_eq!(rest.status(), 204);
        self.assert_first_file(draft, content).await;
    }

    /// Asserts that the course of the app user's `draft` holds `content` (by
    /// its SHA-256) as its first file; the course.
    pub async fn assert_first_file(&self, draft: &str, content: &[u8]) -> serde_json::Value {
        let course = self
            .course_of(&self.user, &self.draft(&self.user, draft).await)
            .await;
        assert_eq!(
            course["files"][0]["sha256"],
            hex::encode(Sha256::digest(content))
        );
        course
    }

    /// Uploads `content` in PATCHes of `chunk` bytes; returns the last answer.
    pub async fn tus_send(
        &self,
        user: &TestUser,
        url: &str,
        content: &[u8],
        chunk: usize,
    ) -> Response {
        let mut offset = 0;
        loop {
            let end = (offset + chunk).min(content.len());
            let response = self
                .tus_patch(user, url, offset, &content[offset..end])
                .await;
            if end == content.len() || response.status() != 204 {
                return response;
            }
            assert_eq!(header(&response, "upload-offset"), end.to_string());
            offset = end;
        }
    }
}

/// The URL of the upload a tus creation made, asserting 201.
pub fn created_url(created: Response) -> String {
    assert_eq!(created.status(), 201);
    header(&created, "location")
}

pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Text of `len` bytes, valid UTF-8.
pub fn text(len: usize) -> Vec<u8> {
    b"Week 1: ownership and borrowing.\n"
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// A Redis database of a test's own, for a test that scans every draft
/// session of its database (the orphan sweep, an erase) or empties it: no
/// two tests of a run are handed the same one, so no scan meets another
/// test's sessions, and it is emptied when handed out. Every other test
/// shares database 0; the browser tests use 5 (scripts/e2e.sh).
#[derive(Clone, Copy)]
pub struct OwnRedis(u8);

/// Redis's 16 databases but the shared 0 and the browser tests' 5.
const OWN_DATABASES: [u8; 14] = [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

impl OwnRedis {
    /// The next database no test of this run has had, emptied.
    pub async fn take() -> Self {
        static HANDED_OUT: AtomicUsize = AtomicUsize::new(0);
        let next = HANDED_OUT.fetch_add(1, Ordering::Relaxed);
        let Some(&database) = OWN_DATABASES.get(next) else {
            panic!("more tests ask for a Redis database of their own than there are");
        };
        let own = Self(database);
        let mut config = base_config();
        own.apply(&mut config);
        let mut redis = redis::Client::open(config.redis_url)
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis reachable");
        let _: () = redis::cmd("FLUSHDB").query_async(&mut redis).await.unwrap();
        own
    }

    pub fn apply(self, config: &mut draftd::config::Config) {
        let base = config.redis_url.trim_end_matches('/');
        config.redis_url = format!("{base}/{}", self.0);
    }
}
