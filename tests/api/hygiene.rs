//! The whole lifecycle's hygiene (invariants 6, 9 and 10), a few hundred
//! visits at once: whatever the users did (left, uploaded and left,
//! submitted, deleted, restored, erased their account), once the trash
//! retention and the draft TTL have passed and the purge, the janitor and the
//! cleanup have run, exactly the courses they kept are left, with their
//! files, and nothing else: no course row, file row, stored object or Redis
//! key. The benchmark's hygiene simulation (bench/src/scenarios/hygiene.rs)
//! runs the same visits at scale, in real time; here time is moved instead.

use std::collections::HashSet;

use deadpool_redis::redis::AsyncCommands;
use futures_util::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{draft_key, files_under, new_user, service_user, wait_until};
use crate::helpers::{TestApp, TestUser};
use crate::receiver::{new_secret, Answer, Receiver};

#[path = "../../bench/src/visits.rs"]
mod visits;

use visits::{check_events, keys_of, Accepted, Visit, MIX};

const VISITS: usize = 300;

struct Outcome {
    visit: Visit,
    user: TestUser,
    draft: String,
    /// The course the draft became, if it did.
    course: Option<String>,
    /// The uploaded file's id and content.
    file: Option<(String, Vec<u8>)>,
}

async fn visit(app: &TestApp, i: usize) -> Outcome {
    let visit = Visit::of(i);
    let user = new_user();
    let draft = app.draft_id(&user, json!({})).await;
    let (mut course, mut file) = (None, None);
    if visit.uploads() {
        let content = format!("Outline of course {i}: lesson one, lesson two.\n").into_bytes();
        let response = app
            .upload_text(&user, &draft, "outline.txt", &content)
            .await;
        assert_eq!(response.status(), 201, "upload of visit {i}");
        let uploaded: Value = response.json().await.unwrap();
        course = Some(uploaded["courseId"].as_str().unwrap().to_owned());
        file = Some((uploaded["id"].as_str().unwrap().to_owned(), content));
    }
    if let Visit::Submit { .. } = visit {
        let topic = json!({"topic": format!("Course {i}")});
        let patch = app.patch_draft(&user, &draft, topic, None).await;
        assert_eq!(patch.status(), 200);
        let submitted = app.draft_action(&user, &draft, "submit").await;
        assert!(submitted.status().is_success(), "submit of visit {i}");
        let submitted: Value = submitted.json().await.unwrap();
        let id = submitted["courseId"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/courses/{id}");
        if visit.trashes() {
            assert_eq!(app.call(Method::DELETE, &path, &user).await.status(), 200);
        }
        if visit.restores() {
            let restore = app
                .call(Method::POST, &format!("{path}/restore"), &user)
                .await;
            assert_eq!(restore.status(), 200);
        }
        if visit.erases_account() {
            erase_user(app, user.id).await;
        }
        course = Some(id);
    }
    Outcome {
        visit,
        user,
        draft,
        course,
        file,
    }
}

/// Erases the user through the admin route and waits until the erase is done.
async fn erase_user(app: &TestApp, user: Uuid) {
    let admin = service_user();
    let response = app
        .request(Method::POST, "/api/v1/admin/erase", &admin)
        .json(&json!({ "userId": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        202,
        "POST /api/v1/admin/erase (a 404: the organization/user erase is not in this build)"
    );
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let status = || async {
        let state = app.get_json(&admin, &location).await;
        state["status"].as_str().unwrap_or_default().to_owned()
    };
    wait_until("the erase has finished", || async {
        status().await != "running"
    })
    .await;
    let state = app.get_json(&admin, &location).await;
    assert_eq!(state["status"], "done", "erase of {user}: {state}");
}

/// The ids `sql` selects, as text.
async fn ids(app: &TestApp, sql: &str) -> HashSet<String> {
    let rows = app.db.query(sql, &[]).await.unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

/// The Redis keys of the visits' users.
async fn redis_keys(app: &TestApp, users: &HashSet<Uuid>) -> HashSet<String> {
    let keys = keys_of(&mut app.redis().await, users).await.unwrap();
    keys.into_iter().map(|(_, key)| key).collect()
}

/// Asserts that exactly what `has_row` and `has_key` name is left: the
/// course rows, their file rows and stored objects, the draft keys, and no
/// key of an erased user.
async fn assert_left(
    app: &TestApp,
    outcomes: &[Outcome],
    stage: &str,
    has_row: impl Fn(&Outcome) -> bool,
    has_key: impl Fn(&Outcome) -> bool,
) {
    let with_row: Vec<&Outcome> = outcomes.iter().filter(|o| has_row(o)).collect();
    let courses: HashSet<String> = with_row.iter().filter_map(|o| o.course.clone()).collect();
    let files: HashSet<String> = with_row
        .iter()
        .filter_map(|o| Some(o.file.as_ref()?.0.clone()))
        .collect();
    let objects: HashSet<String> = files_under(&app.config.upload_dir)
        .iter()
        .map(|path| {
            let key = path.strip_prefix(&app.config.upload_dir).unwrap();
            key.to_string_lossy().into_owned()
        })
        .collect();
    let storage_keys = ids(app, "SELECT storage_key FROM course_files").await;
    for (what, found, expected) in [
        (
            "course rows",
            ids(app, "SELECT id::text FROM courses").await,
            courses,
        ),
        (
            "file rows",
            ids(app, "SELECT id::text FROM course_files").await,
            files,
        ),
        ("stored objects", objects, storage_keys),
    ] {
        assert_same(&found, &expected, &format!("{what} {stage}"));
    }

    let users: HashSet<Uuid> = outcomes.iter().map(|o| o.user.id).collect();
    let keys = redis_keys(app, &users).await;
    let sessions: HashSet<String> = keys
        .iter()
        .filter(|k| draftd::stores::redis::keys::parse_draft_key(k).is_some())
        .cloned()
        .collect();
    let expected: HashSet<String> = outcomes
        .iter()
        .filter(|o| has_key(o))
        .map(|o| draft_key(&o.user, &o.draft))
        .collect();
    assert_same(&sessions, &expected, &format!("draft keys {stage}"));
    for erased in outcomes.iter().filter(|o| o.visit.erases_account()) {
        let tag = format!("{{{}}}", erased.user.id);
        let left: Vec<_> = keys.iter().filter(|k| k.contains(&tag)).collect();
        assert!(left.is_empty(), "keys of an erased user {stage}: {left:?}");
    }
}

/// Asserts `found` is `expected`, naming what is left over and what is missing.
fn assert_same(found: &HashSet<String>, expected: &HashSet<String>, what: &str) {
    let left: Vec<_> = found.difference(expected).collect();
    let missing: Vec<_> = expected.difference(found).collect();
    assert!(
        left.is_empty() && missing.is_empty(),
        "{what}: {} left over {left:?}, {} missing {missing:?}",
        left.len(),
        missing.len()
    );
}

#[tokio::test]
async fn after_retention_ttl_and_the_jobs_exactly_the_kept_courses_are_left() {
    let receiver = Receiver::start(Answer::Status(204)).await;
    let (secret, _) = new_secret();
    // Long enough that nothing expires by itself while the test runs: the
    // test moves time instead, where each job looks at it.
    let app = TestApp::spawn_with(|c| {
        c.webhook.url = Some(receiver.url.clone());
        c.webhook.secret = Some(secret);
        c.webhook.poll_ms = 50;
        c.trash_retention_secs = 3600;
        c.draft_ttl_secs = 3600;
        // Sixteen visits at once beside an erase's cleanup steps: room in
        // the pool for both (the service's default is 32).
        c.pool_size = 24;
    })
    .await;
    let app = &app;
    let outcomes: Vec<Outcome> = stream::iter(0..VISITS)
        .map(|i| visit(app, i))
        .buffer_unordered(16)
        .collect()
        .await;
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let unused = |o: &Outcome| o.visit.unused();
    // The mix of 300 visits, so that every path below has work to do.
    let with_file = |o: &Outcome| o.visit.uploads();
    assert_eq!(
        [
            count(&unused),
            count(&|o| o.visit.kept()),
            count(&|o| o.visit.kept() && with_file(o)),
            count(&|o| o.visit.purged()),
            count(&|o| o.visit.purged() && with_file(o)),
            count(&|o| o.visit.erases_account()),
            count(&|o| o.visit.erases_account() && with_file(o)),
        ],
        [60, 36, 18, 12, 6, 12, 6],
        "the mix: {MIX}"
    );

    app.run_cleanup().await;
    assert_left(
        app,
        &outcomes,
        "after the visits",
        |o| !o.visit.erases_account() && o.visit.makes_course(),
        |o| !o.visit.erases_account(),
    )
    .await;

    // The retention of what is still in the trash ends.
    let in_trash = ids(
        app,
        "SELECT id::text FROM courses WHERE trashed_at IS NOT NULL",
    )
    .await;
    let purged: Vec<&Outcome> = outcomes.iter().filter(|o| o.visit.purged()).collect();
    assert_eq!(
        in_trash,
        purged.iter().filter_map(|o| o.course.clone()).collect()
    );
    for course in &in_trash {
        app.set_purge_at(course, -1.0).await;
    }
    let report = app.run_purge(false).await;
    let bytes: usize = purged
        .iter()
        .filter_map(|o| Some(o.file.as_ref()?.1.len()))
        .sum();
    assert_eq!(
        (report.processed, report.failed, report.files, report.bytes),
        (
            purged.len() as u64,
            0,
            count(&|o| o.visit.purged() && with_file(o)) as u64,
            bytes as u64
        )
    );
    app.run_cleanup().await;
    // Before the TTL: the purged courses' draft keys went with them.
    assert_left(
        app,
        &outcomes,
        "after the purge",
        |o| !o.visit.erases_account() && !o.visit.purged() && o.visit.makes_course(),
        |o| !o.visit.erases_account() && !o.visit.purged(),
    )
    .await;

    // The TTL passes: every draft's key expires, every course's last
    // activity is older than the TTL.
    let mut redis = app.redis().await;
    for outcome in &outcomes {
        let _: () = redis
            .del(draft_key(&outcome.user, &outcome.draft))
            .await
            .unwrap();
    }
    app.db
        .execute(
            "UPDATE courses SET updated_at = updated_at - interval '2 hours'",
            &[],
        )
        .await
        .unwrap();
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    let uploads_left = count(&unused);
    assert_eq!(
        (
            &report["deleted"],
            &report["skippedAlive"],
            &report["filesQueued"]
        ),
        (&json!(uploads_left), &json!(0), &json!(uploads_left))
    );
    app.run_cleanup().await;
    assert_left(app, &outcomes, "at the end", |o| o.visit.kept(), |_| false).await;
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%'")
            .await,
        0,
        "no cleanup job pending or dead"
    );

    // Downstream was told: each course's events in order, and every erased
    // course announced deleted once.
    let undelivered =
        "SELECT count(*) FROM jobs WHERE task = 'webhook.delivery' AND status <> 'done'";
    wait_until("every event is delivered", || async {
        app.count(undelivered).await == 0
    })
    .await;
    let accepted: Vec<Accepted> = receiver
        .accepted()
        .iter()
        .map(|d| Accepted {
            webhook_id: d.webhook_id.clone(),
            kind: d.kind().to_owned(),
            course: d.body["data"]["courseId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    let announced = check_events(
        outcomes
            .iter()
            .filter_map(|o| Some((o.course.clone()?, o.visit))),
        &accepted,
    )
    .unwrap();
    assert_eq!(
        announced.deleted,
        count(&|o| o.visit.makes_course() && !o.visit.kept())
    );

    // What was kept is there, listed, its file byte for byte.
    for kept in outcomes.iter().filter(|o| o.visit.kept()) {
        let course = kept.course.as_deref().unwrap();
        let list = app.get_json(&kept.user, "/api/v1/courses").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["id"], course);
        let trash = app
            .get_json(&kept.user, "/api/v1/courses?trashed=true")
            .await;
        assert_eq!(trash["items"], json!([]));
        if let Some((file, content)) = &kept.file {
            let path = format!("/api/v1/courses/{course}/files/{file}");
            let download = app.call(Method::GET, &path, &kept.user).await;
            assert_eq!(download.status(), 200);
            assert_eq!(&download.bytes().await.unwrap()[..], &content[..]);
        }
    }
}
