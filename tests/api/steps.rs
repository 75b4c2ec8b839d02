//! Steps that many tests take: a draft by its id, a text upload, a course
//! with files, an action's JSON, the course a draft became, a replica
//! without Redis, an upload that stops part-way.

use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{TestApp, TestUser};

#[path = "../../bench/src/unfinished_upload.rs"]
mod unfinished_upload;
pub use unfinished_upload::unfinished_upload;

/// A draft whose course holds files, made by uploading them.
pub struct CourseWithFiles {
    pub draft: String,
    pub course: String,
    /// The files' ids, in the order uploaded.
    pub files: Vec<String>,
}

impl TestApp {
    /// A draft of `user` with `topic` whose course holds one file per
    /// `(name, content)`: Markdown for a `.md` name, plain text otherwise.
    pub async fn course_with_files(
        &self,
        user: &TestUser,
        topic: &str,
        files: &[(&str, &[u8])],
    ) -> CourseWithFiles {
        let draft = self
            .draft_id(user, serde_json::json!({ "topic": topic }))
            .await;
        let mut made = CourseWithFiles {
            draft,
            course: String::new(),
            files: Vec::new(),
        };
        for (name, content) in files {
            let content_type = if name.ends_with(".md") {
                "text/markdown"
            } else {
                "text/plain"
            };
            let response = self
                .upload(user, &made.draft, name, content_type, content.to_vec())
                .await;
            assert_eq!(response.status(), 201, "{name} uploaded");
            let file: Value = response.json().await.expect("the file's JSON");
            made.course = file["courseId"].as_str().expect("a course id").to_owned();
            made.files
                .push(file["id"].as_str().expect("a file id").to_owned());
        }
        made
    }

    /// The draftd binary serving on `port`, on this app's stores and
    /// storage, its scheduled jobs off: a replica as a real process, which a
    /// test can kill.
    pub fn serve_command(&self, port: u16) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_draftd"));
        command
            .arg("serve")
            .env("DRAFTD_BIND", format!("127.0.0.1:{port}"))
            .env("DRAFTD_DATABASE_URL", &self.config.database_url)
            .env("DRAFTD_REDIS_URL", &self.config.redis_url)
            .env("DRAFTD_JWT_SECRET", crate::helpers::SECRET)
            .env("DRAFTD_UPLOAD_DIR", &self.config.upload_dir)
            .env("DRAFTD_JANITOR_CRON", "off")
            .env("DRAFTD_PURGE_CRON", "off")
            .env("DRAFTD_ORPHAN_SWEEP_CRON", "off");
        command
    }

    /// Starts the app with its Redis unreachable (nothing listens on port 1).
    pub async fn spawn_without_redis() -> TestApp {
        Self::spawn_with(|c| {
            c.redis_url = "redis://127.0.0.1:1".into();
            c.store_timeout_ms = 500;
        })
        .await
    }

    /// Starts the app and opens a draft of `form` for its user.
    pub async fn with_draft(form: Value) -> (TestApp, Value) {
        let app = Self::spawn().await;
        let draft = app.new_draft(&app.user, form).await;
        (app, draft)
    }

    /// Starts the app and opens a draft of `form` for its user; with its id.
    pub async fn with_draft_id(form: Value) -> (TestApp, String) {
        let app = Self::spawn().await;
        let id = app.draft_id(&app.user, form).await;
        (app, id)
    }

    /// Creates a draft of `form` as `user` (asserting 201); returns its id.
    pub async fn draft_id(&self, user: &TestUser, form: Value) -> String {
        let draft = self.new_draft(user, form).await;
        draft["id"].as_str().expect("draft id").to_owned()
    }

    /// Uploads `content` as a `text/plain` file named `name`.
    pub async fn upload_text(
        &self,
        user: &TestUser,
        draft_id: &str,
        name: &str,
        content: &[u8],
    ) -> Response {
        self.upload(user, draft_id, name, "text/plain", content.to_vec())
            .await
    }

    /// POSTs the draft's `action`, asserting `status`; returns the JSON.
    pub async fn action_json(
        &self,
        user: &TestUser,
        draft_id: &str,
        action: &str,
        status: u16,
    ) -> Value {
        let response = self.draft_action(user, draft_id, action).await;
        assert_eq!(response.status(), status, "{action} {draft_id}");
        response.json().await.expect("JSON body")
    }

    /// The course named by `answer["courseId"]`, as `user` sees it.
    pub async fn course_of(&self, user: &TestUser, answer: &Value) -> Value {
        let id = answer["courseId"].as_str().expect("a course id");
        self.get_json(user, &format!("/api/v1/courses/{id}")).await
    }

    /// Moves `user`'s course to the trash, asserting 200; returns the course.
    pub async fn trash_course(&self, user: &TestUser, course: &str) -> Value {
        let response = self
            .call(Method::DELETE, &format!("/api/v1/courses/{course}"), user)
            .await;
        assert_eq!(response.status(), 200, "trash {course}");
        response.json().await.expect("the trashed course")
    }

    /// DELETEs the draft `id` as `user`.
    pub async fn delete_draft(&self, user: &TestUser, id: &str) -> Response {
        self.call(Method::DELETE, &format!("/api/v1/drafts/{id}"), user)
            .await
    }

    /// GETs `/readyz`, asserting `status`; returns the JSON.
    pub async fn readiness(&self, status: u16) -> Value {
        let ready = self.get_public("/readyz").await;
        assert_eq!(ready.status(), status);
        ready.json().await.expect("readiness JSON")
    }

    /// Asserts `user`'s draft list is empty.
    pub async fn assert_no_drafts(&self, user: &TestUser) {
        let list = self.get_json(user, "/api/v1/drafts").await;
        assert_eq!(list["items"], serde_json::json!([]));
    }
}

/// The statuses of `responses`.
pub fn statuses(responses: &[Response]) -> Vec<u16> {
    responses.iter().map(|r| r.status().as_u16()).collect()
}

/// Asserts that `statuses` hold each `(status, count)` of `expected`.
pub fn assert_status_counts(statuses: &[u16], expected: &[(u16, usize)]) {
    for (status, count) in expected {
        assert_eq!(
            statuses.iter().filter(|s| *s == status).count(),
            *count,
            "{statuses:?}"
        );
    }
}
