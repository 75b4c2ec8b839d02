//! The trash (invariant 10): a deleted course keeps its row and files until
//! its retention ends and comes back unchanged; a permanent delete and the
//! purge erase it (invariant 6); a purge racing a restore has one winner.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use deadpool_redis::redis::AsyncCommands;
use futures_util::future::join_all;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, draft_key, files_under, json_of, new_user, ScratchDir, TestApp, TestUser,
};
use crate::servers::{free_port, s3_server, use_s3};

const CONTENT: &[u8] = b"Lesson one: ownership.\nLesson two: borrowing.\n";

/// A draft whose course holds one file; returns (draft id, course id, file id).
async fn course_with_file(app: &TestApp, user: &TestUser) -> (String, String, String) {
    let made = app
        .course_with_files(user, "Keep me", &[("plan.txt", CONTENT)])
        .await;
    (made.draft, made.course, made.files[0].clone())
}

/// A course of one file of the app's user, in the trash: (draft id, course
/// id).
async fn trashed_course(app: &TestApp) -> (String, String) {
    let (draft, course, _) = course_with_file(app, &app.user).await;
    app.trash_course(&app.user, &course).await;
    (draft, course)
}

/// POSTs the restore of the app's user's `course`.
async fn restore(app: &TestApp, course: &str) -> Response {
    let path = format!("/api/v1/courses/{course}/restore");
    app.call(Method::POST, &path, &app.user).await
}

/// Asserts the course erased for good: the draft's Redis key gone, no
/// restore (404).
async fn assert_erased(app: &TestApp, draft: &str, course: &str) {
    let mut redis = app.redis().await;
    let key_left: bool = redis.exists(draft_key(&app.user, draft)).await.unwrap();
    assert!(!key_left);
    assert_problem(restore(app, course).await, 404).await;
}

async fn download(app: &TestApp, course: &str, file: &str) -> Vec<u8> {
    let response = app
        .call(
            Method::GET,
            &format!("/api/v1/courses/{course}/files/{file}"),
            &app.user,
        )
        .await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

async fn listed(app: &TestApp, user: &TestUser, query: &str) -> Vec<String> {
    let page = app.get_json(user, &format!("/api/v1/courses{query}")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

/// Trash, what a trashed course answers, and restore, against one storage
/// backend whose stored objects `objects` lists.
async fn trash_and_restore(app: &TestApp, objects: impl Fn() -> Vec<PathBuf>) {
    let (draft, course, file) = course_with_file(app, &app.user).await;
    let path = format!("/api/v1/courses/{course}");
    let before = app.get_json(&app.user, &path).await;
    assert_eq!(
        listed(app, &app.user, "").await,
        std::slice::from_ref(&course)
    );

    let trashed = app.trash_course(&app.user, &course).await;
    let (trashed_at, purge_at) = (time(&trashed["trashedAt"]), time(&trashed["purgeAt"]));
    assert_eq!((purge_at - trashed_at).num_seconds(), 30 * 24 * 3600);
    assert_eq!(trashed["files"].as_array().unwrap().len(), 1);

    // Out of the list, in the trash; row, file row and bytes intact.
    assert!(listed(app, &app.user, "").await.is_empty());
    let trash = app
        .get_json(&app.user, "/api/v1/courses?trashed=true")
        .await;
    assert_eq!(trash["items"][0]["id"], course.as_str());
    assert_eq!(trash["items"][0]["fileCount"], 1);
    assert_eq!(time(&trash["items"][0]["purgeAt"]), purge_at);
    assert_eq!(
        (app.course_count().await, app.file_row_count().await),
        (1, 1)
    );
    assert_eq!(objects().len(), 1);
    assert_eq!(download(app, &course, &file).await, CONTENT);
    assert_eq!(
        app.get_json(&app.user, &path).await["trashedAt"],
        trashed["trashedAt"]
    );

    // The draft is read-only: every change through it is a 409.
    assert_eq!(app.draft(&app.user, &draft).await["courseTrashed"], true);
    let patch = app
        .patch_draft(&app.user, &draft, json!({"topic": "Changed"}), None)
        .await;
    assert_problem(patch, 409).await;
    let upload = app
        .upload_text(&app.user, &draft, "more.txt", b"more")
        .await;
    assert_problem(upload, 409).await;
    assert_problem(app.draft_action(&app.user, &draft, "submit").await, 409).await;
    assert_problem(
        app.draft_action(&app.user, &draft, "materialize").await,
        409,
    )
    .await;
    let file_path = format!("/api/v1/drafts/{draft}/files/{file}");
    let remove_file = app.call(Method::DELETE, &file_path, &app.user).await;
    assert_problem(remove_file, 409).await;
    assert_eq!(objects().len(), 1);

    // Deleting again changes nothing.
    let again = json_of(app.request(Method::DELETE, &path, &app.user)).await;
    assert_eq!(again["trashedAt"], trashed["trashedAt"]);

    // Restore: the same course, byte for byte, and an editable draft.
    let restore = format!("{path}/restore");
    let restored = json_of(app.request(Method::POST, &restore, &app.user)).await;
    assert_eq!(restored["trashedAt"], Value::Null);
    assert_eq!(restored["purgeAt"], Value::Null);
    let mut after = app.get_json(&app.user, &path).await;
    let mut expected = before;
    for course in [&mut after, &mut expected] {
        course.as_object_mut().unwrap().remove("trashedAt");
        course.as_object_mut().unwrap().remove("purgeAt");
    }
    assert_eq!(after, expected, "restored unchanged");
    assert_eq!(download(app, &course, &file).await, CONTENT);
    assert_eq!(
        listed(app, &app.user, "").await,
        std::slice::from_ref(&course)
    );
    assert!(listed(app, &app.user, "?trashed=true").await.is_empty());
    assert_eq!(app.draft(&app.user, &draft).await["courseTrashed"], false);
    let patch = app
        .patch_draft(&app.user, &draft, json!({"topic": "Changed"}), None)
        .await;
    assert_eq!(patch.status(), 200);
    // Restoring a live course changes nothing.
    let live = json_of(app.request(Method::POST, &restore, &app.user)).await;
    assert_eq!(live["updatedAt"], restored["updatedAt"]);
}

#[tokio::test]
async fn a_trashed_course_keeps_its_files_and_comes_back_unchanged() {
    let app = TestApp::spawn().await;
    trash_and_restore(&app, || app.stored_files()).await;
}

#[tokio::test]
async fn a_trashed_course_keeps_its_files_and_comes_back_unchanged_on_s3() {
    let root = ScratchDir::new("s3");
    let port = free_port();
    let _s3 = s3_server(&root, port).await;
    let app = TestApp::spawn_with(|c| use_s3(c, port)).await;
    trash_and_restore(&app, || files_under(&root.join("draftd"))).await;
}

#[tokio::test]
async fn a_permanent_delete_erases_a_trashed_course_with_its_files_and_keys() {
    let app = TestApp::spawn().await;
    let (draft, course) = trashed_course(&app).await;

    let path = format!("/api/v1/courses/{course}?permanent=true");
    let erased = app.call(Method::DELETE, &path, &app.user).await;
    assert_eq!(erased.status(), 204);
    assert_eq!(
        (app.course_count().await, app.file_row_count().await),
        (0, 0)
    );
    app.run_cleanup().await;
    assert!(app.stored_files().is_empty(), "{:?}", app.stored_files());
    assert_erased(&app, &draft, &course).await;
}

#[tokio::test]
async fn the_purge_erases_a_course_once_its_retention_ends() {
    let app = TestApp::spawn().await;
    let (draft, course, _) = course_with_file(&app, &app.user).await;
    let (_, kept, _) = course_with_file(&app, &app.user).await;
    let path = format!("/api/v1/courses/{course}");
    for id in [&course, &kept] {
        app.trash_course(&app.user, id).await;
    }
    assert_eq!(
        app.run_purge(false).await.processed,
        0,
        "nothing is due yet"
    );
    app.set_purge_at(&course, -1.0).await;

    let dry = app.run_purge(true).await;
    assert_eq!(
        (dry.processed, dry.files, dry.bytes),
        (1, 1, CONTENT.len() as u64)
    );
    assert_eq!(app.course_count().await, 2, "a dry run erases nothing");

    let report = app.run_purge(false).await;
    assert_eq!(
        (report.processed, report.failed, report.files, report.bytes),
        (1, 0, 1, CONTENT.len() as u64)
    );
    app.run_cleanup().await;
    assert_eq!(
        (app.course_count().await, app.file_row_count().await),
        (1, 1)
    );
    assert_eq!(
        app.stored_files().len(),
        1,
        "only the course still in the trash"
    );
    assert_erased(&app, &draft, &course).await;
    assert_problem(app.call(Method::GET, &path, &app.user).await, 404).await;
    assert_eq!(listed(&app, &app.user, "?trashed=true").await, [kept]);

    let metrics = app.get_public("/metrics").await.text().await.unwrap();
    for series in [
        "draftd_purge_runs_total{outcome=\"completed\"}",
        "draftd_purge_runs_total{outcome=\"dry_run\"}",
        "draftd_purge_courses_total{result=\"erased\"}",
        "draftd_purge_bytes_total",
        "draftd_purge_duration_seconds",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}

/// A draft kept in its course row while Redis was down (degraded mode) is
/// trashed and restored with its row: the row itself refuses autosave.
#[tokio::test]
async fn a_degraded_mode_draft_is_read_only_while_its_course_is_in_the_trash() {
    let app = TestApp::spawn_with(|c| c.redis_url = "redis://127.0.0.1:1".into()).await;
    let draft = app.new_draft(&app.user, json!({"topic": "Outage"})).await;
    assert_eq!(draft["store"], "postgres");
    let (id, course) = (
        draft["id"].as_str().unwrap(),
        draft["courseId"].as_str().unwrap(),
    );
    assert!(
        listed(&app, &app.user, "").await.is_empty(),
        "a draft, not yet a course"
    );

    app.trash_course(&app.user, course).await;
    assert_eq!(app.draft(&app.user, id).await["courseTrashed"], true);
    let patch = app
        .patch_draft(&app.user, id, json!({"topic": "Changed"}), None)
        .await;
    assert_problem(patch, 409).await;
    assert_eq!(
        listed(&app, &app.user, "?trashed=true").await,
        [course.to_owned()]
    );

    assert_eq!(restore(&app, course).await.status(), 200);
    let patch = app
        .patch_draft(&app.user, id, json!({"topic": "Changed"}), None)
        .await;
    assert_eq!(patch.status(), 200);
}

#[tokio::test]
async fn a_restore_after_purge_at_is_404_even_before_the_purge_runs() {
    let app = TestApp::spawn().await;
    let (_, course) = trashed_course(&app).await;
    app.set_purge_at(&course, -1.0).await;
    assert_problem(restore(&app, &course).await, 404).await;
    assert_eq!(
        app.course_count().await,
        1,
        "the purge erases it, not the restore"
    );
}

/// Restores and a purge run at once, as a batch of courses' retention ends:
/// each course is either back with its file or gone with nothing left.
#[tokio::test]
async fn a_purge_racing_restores_leaves_each_course_whole_or_gone() {
    let app = TestApp::spawn().await;
    let mut outcomes = HashMap::new();
    for _round in 0..3 {
        let mut courses = Vec::new();
        for _ in 0..12 {
            let (_, course, file) = course_with_file(&app, &app.user).await;
            app.trash_course(&app.user, &course).await;
            courses.push((course, file));
        }
        // Their retention ends in the middle of the restores.
        for (i, (course, _)) in courses.iter().enumerate() {
            app.set_purge_at(course, 0.02 * i as f64).await;
        }
        let app = &app;
        let restores = join_all(
            courses
                .iter()
                .map(|(course, _)| async move { restore(app, course).await.status().as_u16() }),
        );
        let purges = async {
            let mut erased = 0;
            for _ in 0..4 {
                erased += app.run_purge(false).await.processed;
            }
            erased
        };
        let (statuses, mut erased) = tokio::join!(restores, purges);
        // A course still in the trash lost its restore (404) before the
        // purge's runs reached it: it is due, and the next run takes it.
        app.db
            .execute(
                "UPDATE courses SET purge_at = now() - interval '1 second' \
                 WHERE trashed_at IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        erased += app.run_purge(false).await.processed;
        app.run_cleanup().await;

        let mut lost = 0;
        for ((course, file), status) in courses.iter().zip(&statuses) {
            let path = format!("/api/v1/courses/{course}");
            match status {
                200 => {
                    let back = app.get_json(&app.user, &path).await;
                    assert_eq!(back["trashedAt"], Value::Null);
                    assert_eq!(download(app, course, file).await, CONTENT);
                }
                404 => {
                    lost += 1;
                    assert_problem(app.call(Method::GET, &path, &app.user).await, 404).await;
                }
                other => panic!("restore answered {other}"),
            }
            *outcomes.entry(*status).or_insert(0) += 1;
        }
        assert_eq!(
            erased, lost,
            "the purge erased exactly the courses not restored"
        );
        let restored = statuses.iter().filter(|s| **s == 200).count() as i64;
        assert_eq!(app.course_count().await, restored);
        assert_eq!(app.file_row_count().await, app.course_count().await);
        assert_eq!(app.stored_files().len() as i64, app.course_count().await);
        // Clear the round's survivors for the next one.
        app.db.execute("DELETE FROM courses", &[]).await.unwrap();
        app.db
            .execute("DELETE FROM jobs WHERE task LIKE 'cleanup.%'", &[])
            .await
            .unwrap();
        for path in app.stored_files() {
            std::fs::remove_file(path).unwrap();
        }
    }
    println!("restore outcomes over the rounds: {outcomes:?}");
}

#[tokio::test]
async fn discarding_the_draft_of_a_trashed_course_erases_the_course() {
    let app = TestApp::spawn().await;
    let (draft, _) = trashed_course(&app).await;
    assert_eq!(app.delete_draft(&app.user, &draft).await.status(), 204);
    assert_eq!(app.course_count().await, 0);
    app.run_cleanup().await;
    assert!(app.stored_files().is_empty());
}

#[tokio::test]
async fn the_janitor_leaves_a_trashed_draft_course_to_the_purge() {
    let app = TestApp::spawn().await;
    let (draft, course) = trashed_course(&app).await;
    let mut redis = app.redis().await;
    let _: () = redis.del(draft_key(&app.user, &draft)).await.unwrap();
    app.age_course(&course, 48).await;
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["deleted"], 0);
    assert_eq!(app.course_count().await, 1);
}

#[tokio::test]
async fn the_course_list_pages_newest_first_and_shows_only_the_callers_courses() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(course_with_file(&app, &app.user).await.1);
    }
    ids.reverse();
    let first = app.get_json(&app.user, "/api/v1/courses?limit=2").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .get_json(
            &app.user,
            &format!("/api/v1/courses?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(second["nextCursor"], Value::Null);
    let paged: Vec<_> = [&first, &second]
        .iter()
        .flat_map(|page| page["items"].as_array().unwrap().iter())
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, ids);
    assert_eq!(first["items"][0]["title"], "Keep me");
    assert_eq!(first["items"][0]["fileCount"], 1);
    assert!(first["items"][0].get("trashedAt").is_none());

    let bad = app
        .call(Method::GET, "/api/v1/courses?cursor=nope", &app.user)
        .await;
    assert_problem(bad, 422).await;
    let bad = app
        .call(Method::GET, "/api/v1/courses?limit=101", &app.user)
        .await;
    assert_problem(bad, 422).await;

    // Another user sees none of them, and cannot trash, restore or erase them.
    let intruder = new_user();
    assert!(listed(&app, &intruder, "").await.is_empty());
    let course = &ids[0];
    app.trash_course(&app.user, &ids[1]).await;
    assert!(listed(&app, &intruder, "?trashed=true").await.is_empty());
    for (method, path) in [
        (Method::DELETE, format!("/api/v1/courses/{course}")),
        (
            Method::DELETE,
            format!("/api/v1/courses/{course}?permanent=true"),
        ),
        (Method::POST, format!("/api/v1/courses/{}/restore", ids[1])),
    ] {
        assert_problem(app.call(method, &path, &intruder).await, 404).await;
    }
    assert_eq!(listed(&app, &app.user, "").await.len(), 2);
    assert_eq!(
        listed(&app, &app.user, "?trashed=true").await,
        [ids[1].clone()]
    );
}
