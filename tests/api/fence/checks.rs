//! What the fence tests set up and check: an app whose events a receiver
//! records, a lost write's answer, nothing left of a course or an erased
//! user in any store, and a course's events ending with its deletion.

use std::collections::HashSet;
use std::path::PathBuf;

use deadpool_redis::redis;
use draftd::config::Config;
use reqwest::Response;
use serde_json::{json, Value};

use crate::erase::{post_erase, Whose};
use crate::helpers::{assert_problem, draft_key, wait_until, TestApp};
use crate::receiver::{new_secret, Answer, Receiver};
use crate::webhooks::spawn_with_hook;

/// The app with its webhook pointed at a receiver of the test's own.
pub async fn spawn_watched(adjust: impl FnOnce(&mut Config)) -> (TestApp, Receiver) {
    let receiver = Receiver::start(Answer::Status(204)).await;
    let (secret, _) = new_secret();
    let app = spawn_with_hook(&receiver, &[&secret], adjust).await;
    (app, receiver)
}

/// A draft of the app's user with a course (materialized, no file yet):
/// the draft's id and the course's.
pub async fn materialized_draft(app: &TestApp) -> (String, String) {
    let draft = app.draft_id(&app.user, json!({"topic": "Fenced"})).await;
    let made = app.action_json(&app.user, &draft, "materialize", 201).await;
    let course = made["courseId"].as_str().expect("a course id").to_owned();
    (draft, course)
}

/// Asserts that `what`, a write that lost its race, answered the problem
/// `kind` with `status`.
pub async fn assert_lost(response: Response, what: &str, status: u16, kind: &str) {
    let seen = response.status().as_u16();
    if seen != status {
        let file = response
            .headers()
            .get("draftd-file-id")
            .map(|id| format!(" Draftd-File-Id: {id:?}"))
            .unwrap_or_default();
        let body = response.text().await.unwrap_or_default();
        panic!("{what} answered {seen}, not {status} {kind}:{file} {body}");
    }
    let problem = assert_problem(response, status).await;
    assert_eq!(
        problem["type"],
        format!("urn:draftd:problem:{kind}"),
        "{what}: {problem}"
    );
}

/// Asserts that nothing is left once the cleanup has run: no course row, no
/// file row, nothing under the upload directory (objects, multipart and tus
/// staging files), no session of `draft`. Each test has a database and a
/// directory of its own, so all of them count.
pub async fn assert_nothing_left(app: &TestApp, draft: &str) {
    app.run_cleanup().await;
    assert_eq!(app.course_count().await, 0, "course rows left");
    assert_eq!(app.file_row_count().await, 0, "file rows left");
    assert_eq!(app.stored_files(), Vec::<PathBuf>::new(), "files left");
    assert!(
        !has_session(app, draft).await,
        "the draft's session is left"
    );
}

/// Asserts that the erase of the app's user, in `state`, is done and clean,
/// and that nothing of the user is left in any store, its resumable uploads
/// included.
pub async fn assert_erased(app: &TestApp, state: &Value, draft: &str) {
    assert_eq!(state["status"], "done", "{state}");
    assert_eq!(state["report"]["integrity"]["clean"], true, "{state}");
    assert_nothing_left(app, draft).await;
    let uploads = app
        .db
        .query_one(
            "SELECT count(*) FROM tus_uploads WHERE owner_id = $1",
            &[&app.user.id],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(uploads, 0, "tus uploads of the erased user left");
}

/// Whether `draft`'s session of the app's user is in Redis.
async fn has_session(app: &TestApp, draft: &str) -> bool {
    let mut redis = app.redis().await;
    redis::cmd("EXISTS")
        .arg(draft_key(&app.user, draft))
        .query_async::<i64>(&mut redis)
        .await
        .expect("EXISTS")
        > 0
}

/// Starts erasing the app's user (202); the erase's location.
pub async fn start_erase(app: &TestApp) -> String {
    let started = post_erase(app, Whose::User(app.user.id), false).await;
    assert_eq!(started.status(), 202);
    started.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned()
}

/// Waits until the erase has swept the app's user: no course row left, and
/// no session of `draft`.
pub async fn wait_until_swept(app: &TestApp, draft: &str) {
    wait_until("the erase has swept the user", || async {
        app.course_count().await == 0 && !has_session(app, draft).await
    })
    .await;
}

/// The events the receiver accepted, each once (by `webhook-id`), in the
/// order they came, once the outbox has none left to send. Each test has
/// one course.
pub async fn events(app: &TestApp, receiver: &Receiver) -> Vec<String> {
    let pending =
        "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status = 'pending'";
    wait_until("the outbox has sent every event", || async {
        app.count(pending).await == 0
    })
    .await;
    let mut seen = HashSet::new();
    receiver
        .accepted()
        .into_iter()
        .filter(|delivery| seen.insert(delivery.webhook_id.clone()))
        .map(|delivery| delivery.kind().to_owned())
        .collect()
}

/// Whether the erased course had been announced (`course.materialized`).
pub enum Announced {
    Yes,
    No,
}

impl Announced {
    /// Asserts that a course's `events` end with its one `course.deleted`,
    /// nothing after it; a course never announced may have no events at all.
    pub fn assert_end(self, events: &[String]) {
        let deleted = events.iter().filter(|kind| *kind == "course.deleted");
        match self {
            Self::Yes => assert_eq!(deleted.count(), 1, "one course.deleted: {events:?}"),
            Self::No => assert!(deleted.count() <= 1, "one course.deleted: {events:?}"),
        }
        if let Some(last) = events.last() {
            assert_eq!(
                last, "course.deleted",
                "events after course.deleted: {events:?}"
            );
        }
    }
}
