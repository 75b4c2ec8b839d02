//! Requests whose body is held half-sent, to force a race's order: the first
//! half goes at once, and the request is handed back only once the service
//! is seen working on it (a staging file, a stored offset); the rest goes
//! when the test says, after whatever it means to happen in between.

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, Response};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::helpers::{wait_until, TestApp, TestUser};
use crate::tus_steps::TUS;

/// A request body sent in two halves: the first at once, the rest only when
/// [`HeldBody::send_rest`] is called; the body ends there.
pub struct HeldBody {
    rest: Bytes,
    sender: mpsc::Sender<Bytes>,
}

impl HeldBody {
    /// The held body and the stream a request sends it through.
    pub fn new(first: &[u8], rest: &[u8]) -> (HeldBody, reqwest::Body) {
        let (sender, receiver) = mpsc::channel::<Bytes>(2);
        sender
            .try_send(Bytes::copy_from_slice(first))
            .expect("room for the first half");
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let chunk = receiver.recv().await?;
            Some((Ok::<_, std::io::Error>(chunk), receiver))
        });
        let held = HeldBody {
            rest: Bytes::copy_from_slice(rest),
            sender,
        };
        (held, reqwest::Body::wrap_stream(stream))
    }

    /// Sends the rest and ends the body; a request answered already (cut
    /// off, refused) no longer reads it.
    pub async fn send_rest(self) {
        let _ = self.sender.send(self.rest).await;
    }
}

/// A request under way whose body is held half-sent.
pub struct InFlight {
    response: JoinHandle<reqwest::Result<Response>>,
    body: HeldBody,
}

impl InFlight {
    fn send(request: reqwest::RequestBuilder, body: HeldBody) -> InFlight {
        InFlight {
            response: tokio::spawn(request.send()),
            body,
        }
    }

    /// Whether the service has answered (with the body still held).
    pub fn answered(&self) -> bool {
        self.response.is_finished()
    }

    /// Sends the rest of the body; the service's answer.
    pub async fn finish(self) -> Response {
        self.body.send_rest().await;
        self.response
            .await
            .expect("the request task")
            .expect("an answer")
    }
}

impl TestApp {
    /// A multipart upload of a text file to `draft` whose body stops after
    /// `first`; handed back once the service is storing it (a new file under
    /// the upload directory).
    pub async fn held_upload(
        &self,
        user: &TestUser,
        draft: &str,
        first: &[u8],
        rest: &[u8],
    ) -> InFlight {
        let before = self.stored_files();
        let (held, body) = HeldBody::new(first, rest);
        let part = Part::stream(body)
            .file_name("late.txt")
            .mime_str("text/plain")
            .expect("valid mime");
        let request = self
            .request(Method::POST, &format!("/api/v1/drafts/{draft}/files"), user)
            .multipart(Form::new().part("file", part));
        let upload = InFlight::send(request, held);
        wait_until("the held upload is being stored", || async {
            self.stored_files().iter().any(|f| !before.contains(f))
        })
        .await;
        upload
    }

    /// A tus PATCH at offset 0 of the upload at `url` whose body stops after
    /// `first`; handed back once the service has stored `first` (the
    /// upload's offset in Postgres). `first` must fill a durable step.
    pub async fn held_tus_patch(
        &self,
        user: &TestUser,
        url: &str,
        first: &[u8],
        rest: &[u8],
    ) -> InFlight {
        let (held, body) = HeldBody::new(first, rest);
        let request = self
            .request(Method::PATCH, url, user)
            .header("tus-resumable", TUS)
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .body(body);
        let patch = InFlight::send(request, held);
        let id = upload_id(url);
        let stored = i64::try_from(first.len()).expect("a small first half");
        wait_until("the held PATCH has stored its first half", || async {
            self.tus_stored_offset(id).await >= stored
        })
        .await;
        patch
    }

    /// The offset the upload `id` has recorded in Postgres (0 if it has no row).
    pub async fn tus_stored_offset(&self, id: Uuid) -> i64 {
        self.db
            .query_opt(
                "SELECT upload_offset FROM tus_uploads WHERE id = $1",
                &[&id],
            )
            .await
            .expect("the upload's row")
            .map_or(0, |row| row.get(0))
    }
}

/// The id of the upload at `url` (`…/uploads/{id}`).
pub fn upload_id(url: &str) -> Uuid {
    url.rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an upload URL: {url}"))
}
