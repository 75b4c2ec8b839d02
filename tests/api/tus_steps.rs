//! Steps of the resumable-upload tests: tus requests as a client sends them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::{Method, Response};

use crate::helpers::{TestApp, TestUser};

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

    /// Creates an upload, asserting 201; returns its URL.
    pub async fn tus_upload_url(
        &self,
        user: &TestUser,
        draft: &str,
        length: usize,
        name: &str,
        filetype: &str,
    ) -> String {
        let created = self.tus_create(user, draft, length, name, filetype).await;
        assert_eq!(created.status(), 201);
        created.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A 10-byte upload to `draft` with its first 5 bytes stored: unfinished.
    pub async fn half_sent_upload(&self, user: &TestUser, draft: &str) -> String {
        let url = self
            .tus_upload_url(user, draft, 10, "a.txt", "text/plain")
            .await;
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

/// The Redis database of a test that scans every draft session of its
/// database (the orphan sweep, an erase), or empties it: each its own,
/// handed out here so that no two tests share one and no scan meets another
/// test's sessions. Every other test shares database 0; the browser tests
/// use 5 (scripts/e2e.sh).
#[derive(Clone, Copy)]
pub enum OwnRedis {
    ResidueOnS3 = 1,
    GoneUploads = 2,
    IdleUploadLapses = 6,
    OrphanSweep = 7,
    Residue = 8,
    DiscardEndsUploads = 9,
    SweepLeavesUnfinished = 10,
    PartsAndTail = 11,
    TerminationAndExpiry = 12,
    EraseEndsUploads = 13,
    UserEraseEndsUploads = 14,
    CutPatchOnS3 = 15,
}

impl OwnRedis {
    pub fn apply(self, config: &mut draftd::config::Config) {
        let base = config.redis_url.trim_end_matches('/');
        config.redis_url = format!("{base}/{}", self as u8);
    }
}
