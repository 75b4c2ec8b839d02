//! Erasing an organization or a user (invariants 6 and 9): every course,
//! file, draft session and key of the subject goes, in every store, and
//! nothing of anyone else; the subject's writes are refused meanwhile and
//! after; a killed erase resumes; the routes are the service's only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use deadpool_redis::redis::{self, AsyncCommands};
use draftd::http::auth::Claims;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    assert_problem, files_under, service_user, token_for, wait_until, ScratchDir, TestApp, TestUser,
};
use crate::records::Record;
use crate::servers::{free_port, s3_server, use_s3};

/// The report's items, as the JSON names them.
const ITEMS: [&str; 9] = [
    "courses",
    "fileRows",
    "objects",
    "bytes",
    "draftKeys",
    "cleanupJobsPending",
    "cleanupJobsDead",
    "eventsPending",
    "eventsDead",
];

pub(crate) fn member_of(user: Uuid, org: Uuid) -> TestUser {
    token_for(Claims {
        sub: Some(user),
        org_id: Some(org),
        role: None,
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: Some(chrono::Utc::now().timestamp()),
    })
}

/// Whose data a census counts.
#[derive(Clone, Copy)]
pub(crate) enum Whose {
    Org(Uuid),
    User(Uuid),
}

impl Whose {
    fn body(self) -> Value {
        match self {
            Self::Org(id) => json!({ "organizationId": id }),
            Self::User(id) => json!({ "userId": id }),
        }
    }

    fn column(self) -> (&'static str, Uuid) {
        match self {
            Self::Org(id) => ("organization_id", id),
            Self::User(id) => ("owner_id", id),
        }
    }
}

/// What the subject has, counted by the test itself in each store (not by
/// the service): the report's items but bytes.
async fn census(app: &TestApp, whose: Whose, storage: &Path) -> BTreeMap<&'static str, i64> {
    let (column, id) = whose.column();
    let count = |sql: String| async move {
        app.db
            .query_one(&sql, &[&id])
            .await
            .expect("count")
            .get::<_, i64>(0)
    };
    let courses = count(format!("SELECT count(*) FROM courses WHERE {column} = $1")).await;
    let files = count(format!(
        "SELECT count(*) FROM course_files f JOIN courses c ON c.id = f.course_id WHERE c.{column} = $1"
    ))
    .await;
    let jobs = count(format!(
        "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND (course_id IN
         (SELECT id FROM courses WHERE {column} = $1)
         OR $1::text IN (payload->>'organizationId', payload->>'userId'))"
    ))
    .await;
    let objects = match whose {
        Whose::Org(org) => files_under(&storage.join(org.to_string())).len(),
        // Objects of the user's courses: their ids are in the key.
        Whose::User(_) => {
            let rows = app
                .db
                .query("SELECT id FROM courses WHERE owner_id = $1", &[&id])
                .await
                .expect("course ids");
            let ids: Vec<String> = rows
                .iter()
                .map(|r| r.get::<_, Uuid>(0).to_string())
                .collect();
            files_under(storage)
                .iter()
                .filter(|path| ids.iter().any(|id| path.to_string_lossy().contains(id)))
                .count()
        }
    };
    BTreeMap::from([
        ("courses", courses),
        ("fileRows", files),
        ("cleanupJobs", jobs),
        ("objects", objects as i64),
        ("draftKeys", draft_keys(app, whose).await as i64),
    ])
}

/// The subject's draft sessions in Redis, found by a scan of every one.
async fn draft_keys(app: &TestApp, whose: Whose) -> usize {
    let mut redis = app.redis().await;
    let mut found = 0;
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(draftd::stores::redis::keys::SESSION_PATTERN)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await
            .expect("scan");
        for key in keys {
            let mine = match whose {
                Whose::User(user) => key.contains(&format!("{{{user}}}")),
                Whose::Org(org) => {
                    let record = Record::read(&mut redis, &key).await;
                    record.is_some_and(|r| r.get("org") == org.to_string())
                }
            };
            found += usize::from(mine);
        }
        if next == 0 {
            return found;
        }
        cursor = next;
    }
}

pub(crate) async fn post_erase(app: &TestApp, whose: Whose, dry_run: bool) -> Response {
    let path = format!("/api/v1/admin/erase?dryRun={dry_run}");
    app.request(Method::POST, &path, &service_user())
        .json(&whose.body())
        .send()
        .await
        .expect("request sent")
}

/// POSTs `body` to the erase route `path` as the service; asserts a 422
/// that names `field`.
pub(crate) async fn assert_erase_refused(app: &TestApp, path: &str, body: &Value, field: &str) {
    let response = app
        .request(Method::POST, path, &service_user())
        .json(body)
        .send()
        .await
        .expect("request sent");
    let problem = assert_problem(response, 422).await;
    assert!(problem["errors"].get(field).is_some(), "{body}: {problem}");
}

/// Starts the erase (202, Location) and waits until it ends; its state.
pub(crate) async fn erase_to_end(app: &TestApp, whose: Whose) -> Value {
    let started = post_erase(app, whose, false).await;
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let state: Value = started.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/admin/erase/{}", state["id"].as_str().unwrap())
    );
    await_erase(app, &location).await
}

/// Waits until the erase at `location` is no longer running; its state.
pub(crate) async fn await_erase(app: &TestApp, location: &str) -> Value {
    let service = service_user();
    wait_until("the erase ends", || async {
        app.get_json(&service, location).await["status"] != "running"
    })
    .await;
    app.get_json(&service, location).await
}

/// A replica of `app`, on its database and storage, with `adjust` applied.
async fn replica(app: &TestApp, adjust: impl FnOnce(&mut draftd::config::Config)) -> TestApp {
    let database_url = app.config.database_url.clone();
    let upload_dir = app.config.upload_dir.clone();
    TestApp::spawn_with(|c| {
        c.database_url = database_url;
        c.upload_dir = upload_dir;
        adjust(c);
    })
    .await
}

/// A replica whose Redis is unreachable: its drafts open in Postgres.
async fn degraded_replica(app: &TestApp, s3: Option<u16>) -> TestApp {
    replica(app, |c| {
        if let Some(port) = s3 {
            use_s3(c, port);
        }
        c.redis_url = "redis://127.0.0.1:1".into();
        c.store_timeout_ms = 500;
    })
    .await
}

/// A draft of `user` with one uploaded file: materialized, or submitted.
async fn erasable_course(app: &TestApp, user: &TestUser, submit: bool) -> String {
    let made = app
        .course_with_files(user, "To be erased", &[("notes.txt", b"course bytes")])
        .await;
    if submit {
        app.action_json(user, &made.draft, "submit", 200).await;
    }
    made.draft
}

/// Dry run, then the real erase; both reports checked against the census
/// and each other. Returns the real report.
async fn erase_and_check(app: &TestApp, whose: Whose, storage: &Path, others: &[Whose]) -> Value {
    app.run_cleanup().await;
    let mine = census(app, whose, storage).await;
    let theirs = futures_census(app, others, storage).await;

    let dry = post_erase(app, whose, true).await;
    assert_eq!(dry.status(), 200);
    let dry: Value = dry.json().await.unwrap();
    assert_eq!(dry["dryRun"], true);
    for (item, counted) in &mine {
        if let Some(tally) = dry["counts"].get(*item) {
            assert_eq!(tally["before"], *counted, "dry run's {item}: {dry}");
            assert_eq!(tally["removed"], *counted, "dry run's {item}");
            assert_eq!(tally["after"], 0, "dry run's {item}");
        }
    }
    assert_eq!(
        census(app, whose, storage).await,
        mine,
        "the dry run changed nothing"
    );

    let state = erase_to_end(app, whose).await;
    assert_eq!(state["status"], "done", "{state}");
    let report = &state["report"];
    assert_eq!(report["dryRun"], false);
    assert_eq!(report["integrity"]["clean"], true, "{report}");
    assert_eq!(report["integrity"]["leftovers"], json!([]));
    for item in ITEMS {
        let (real, predicted) = (&report["counts"][item], &dry["counts"][item]);
        assert_eq!(real["before"], predicted["before"], "{item}: {report}");
        assert_eq!(real["removed"], predicted["removed"], "{item}: {report}");
        assert_eq!(real["after"], 0, "{item}: {report}");
    }
    let left = census(app, whose, storage).await;
    assert!(left.values().all(|n| *n == 0), "left: {left:?}");
    assert_eq!(
        futures_census(app, others, storage).await,
        theirs,
        "others untouched"
    );
    report.clone()
}

async fn futures_census(
    app: &TestApp,
    whose: &[Whose],
    storage: &Path,
) -> Vec<BTreeMap<&'static str, i64>> {
    let mut all = Vec::new();
    for subject in whose {
        all.push(census(app, *subject, storage).await);
    }
    all
}

#[tokio::test]
async fn erasing_an_organization_removes_all_of_it_and_nothing_else() {
    let port = free_port();
    let root = ScratchDir::new("s3");
    let _s3 = s3_server(&root, port).await;
    let storage = root.join("draftd");
    let app = TestApp::spawn_with(|c| use_s3(c, port)).await;
    let (org, elsewhere) = (Uuid::new_v4(), Uuid::new_v4());
    let (alice, bob) = (
        member_of(Uuid::new_v4(), org),
        member_of(Uuid::new_v4(), org),
    );
    let bob_elsewhere = member_of(bob.id, elsewhere);
    let carol = member_of(Uuid::new_v4(), elsewhere);

    // Drafts in Redis: both users of the organization, bob's in the other one.
    app.draft_id(&alice, json!({"topic": "Open"})).await;
    app.draft_id(&bob, json!({})).await;
    let kept = app.draft_id(&bob_elsewhere, json!({"topic": "Kept"})).await;
    app.draft_id(&carol, json!({})).await;
    // Courses with files: materialized and submitted, in both organizations.
    erasable_course(&app, &alice, false).await;
    erasable_course(&app, &bob, true).await;
    erasable_course(&app, &bob_elsewhere, true).await;
    erasable_course(&app, &carol, false).await;
    // A draft opened while Redis was down, kept in Postgres, with a file.
    let degraded = degraded_replica(&app, Some(port)).await;
    let draft = degraded.new_draft(&alice, json!({"topic": "Outage"})).await;
    assert_eq!(draft["store"], "postgres");
    let upload = degraded
        .upload_text(
            &alice,
            draft["id"].as_str().unwrap(),
            "outage.txt",
            b"degraded",
        )
        .await;
    assert_eq!(upload.status(), 201);

    let whose = Whose::Org(org);
    let before = census(&app, whose, &storage).await;
    assert_eq!(
        (before["courses"], before["fileRows"], before["objects"]),
        (3, 3, 3)
    );
    assert!(before["draftKeys"] >= 4, "{before:?}");
    let others = [Whose::Org(elsewhere), Whose::User(bob.id)];
    let report = erase_and_check(&app, whose, &storage, &others[..1]).await;
    println!("erase report of the test organization: {report:#}");
    assert!(report["counts"]["bytes"]["removed"].as_u64() > Some(0));

    // Bob's draft and course in the other organization are his still.
    assert_eq!(
        app.draft(&bob_elsewhere, &kept).await["formData"]["topic"],
        "Kept"
    );
    assert_eq!(census(&app, others[1], &storage).await["courses"], 1);
}

#[tokio::test]
async fn erasing_a_user_removes_their_data_in_every_organization_and_nothing_else() {
    let app = TestApp::spawn().await;
    let storage = app.config.upload_dir.clone();
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let dave = Uuid::new_v4();
    let (dave_here, dave_there) = (member_of(dave, first), member_of(dave, second));
    let erin = member_of(Uuid::new_v4(), first);

    app.draft_id(&dave_here, json!({})).await;
    app.draft_id(&dave_there, json!({"topic": "Elsewhere"}))
        .await;
    erasable_course(&app, &dave_here, true).await;
    erasable_course(&app, &dave_there, false).await;
    let degraded = degraded_replica(&app, None).await;
    degraded
        .new_draft(&dave_there, json!({"topic": "Outage"}))
        .await;
    let erins = app.draft_id(&erin, json!({"topic": "Erin's"})).await;
    erasable_course(&app, &erin, false).await;

    let whose = Whose::User(dave);
    let before = census(&app, whose, &storage).await;
    assert_eq!(
        (before["courses"], before["fileRows"], before["objects"]),
        (3, 2, 2)
    );
    assert!(before["draftKeys"] >= 4, "{before:?}");
    erase_and_check(&app, whose, &storage, &[Whose::User(erin.id)]).await;

    let mut redis = app.redis().await;
    for key in [
        draftd::stores::redis::keys::index_key(dave.into()),
        draftd::stores::redis::keys::write_rate_key(dave.into()),
    ] {
        assert!(!redis.exists::<_, bool>(&key).await.unwrap(), "{key} left");
    }
    assert_eq!(
        app.draft(&erin, &erins).await["formData"]["topic"],
        "Erin's"
    );
    // The user's writes stay refused in any organization.
    let third = member_of(dave, Uuid::new_v4());
    assert_problem(app.create_draft(&third, json!({})).await, 403).await;
}

#[tokio::test]
async fn writes_of_an_organization_are_refused_while_it_is_erased_and_after() {
    let app = TestApp::spawn().await;
    let other_replica = replica(&app, |_| {}).await;
    let org = app.user.org;
    let colleague = member_of(Uuid::new_v4(), org);
    let outsider = member_of(Uuid::new_v4(), Uuid::new_v4());
    let draft = app.draft_id(&app.user, json!({"topic": "Mine"})).await;
    let course_draft = erasable_course(&app, &app.user, false).await;

    let started = post_erase(&app, Whose::Org(org), false).await;
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_owned();

    // The replica that started it refuses at once, on every kind of write.
    let writes = [
        app.create_draft(&app.user, json!({})).await,
        app.create_draft(&colleague, json!({})).await,
        app.patch_draft(&app.user, &draft, json!({"topic": "Late"}), None)
            .await,
        app.delete_draft(&app.user, &draft).await,
        app.draft_action(&app.user, &draft, "submit").await,
        app.upload_text(&app.user, &course_draft, "late.txt", b"late")
            .await,
    ];
    for response in writes {
        let problem = assert_problem(response, 403).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("being erased"),
            "{problem}"
        );
    }
    // Reads go on; other organizations write as ever.
    app.get_json(&app.user, "/api/v1/drafts").await;
    assert_eq!(app.create_draft(&outsider, json!({})).await.status(), 201);
    // Whichever replica is asked, however late it learns of the erase, no
    // course row of the organization appears: the recording reads the
    // erasure in Postgres, under the course's fence (403), unless the erase
    // removed the draft first (404). tests/api/fence.rs forces each order.
    let late = other_replica
        .draft_action(&app.user, &draft, "materialize")
        .await;
    assert!(
        matches!(late.status().as_u16(), 403 | 404),
        "{}",
        late.status()
    );
    let rows = format!("SELECT count(*) FROM courses WHERE draft_session_id = '{draft}'");
    assert_eq!(
        app.count(&rows).await,
        0,
        "a course row appeared behind the erase"
    );
    let service = service_user();
    assert_eq!(app.get_json(&service, &location).await["status"], "running");

    // The other replica learns of it from Postgres within its refresh.
    wait_until(
        "the other replica refuses the organization's writes",
        || async {
            other_replica
                .create_draft(&colleague, json!({}))
                .await
                .status()
                == 403
        },
    )
    .await;

    let done = await_erase(&app, &location).await;
    assert_eq!(done["status"], "done");
    // After it, a token issued before it finished stays refused, one without
    // `iat` too; one issued after it writes again.
    let finished: chrono::DateTime<chrono::Utc> =
        done["finishedAt"].as_str().unwrap().parse().unwrap();
    let token = |iat| {
        token_for(Claims {
            sub: Some(app.user.id),
            org_id: Some(org),
            role: None,
            exp: chrono::Utc::now().timestamp() + 3600,
            iat,
        })
    };
    for replica in [&app, &other_replica] {
        assert_problem(replica.create_draft(&app.user, json!({})).await, 403).await;
        assert_problem(replica.create_draft(&token(None), json!({})).await, 403).await;
        let issued_after = token(Some(finished.timestamp() + 1));
        wait_until("the replica knows the erase ended", || async {
            replica
                .create_draft(&issued_after, json!({}))
                .await
                .status()
                == 201
        })
        .await;
        assert_eq!(
            replica.create_draft(&outsider, json!({})).await.status(),
            201
        );
    }
}

#[tokio::test]
async fn the_erase_routes_are_for_the_service_only_and_check_their_input() {
    let app = TestApp::spawn().await;
    let body = json!({ "organizationId": app.user.org });
    let unknown = format!("/api/v1/admin/erase/{}", Uuid::new_v4());
    for (method, path) in [
        (Method::POST, "/api/v1/admin/erase"),
        (Method::GET, unknown.as_str()),
    ] {
        let url = format!("{}{path}", app.address);
        let anonymous = app
            .client
            .request(method.clone(), &url)
            .json(&body)
            .send()
            .await;
        assert_problem(anonymous.unwrap(), 401).await;
        let user = app
            .request(method, path, &app.user)
            .json(&body)
            .send()
            .await;
        assert_problem(user.unwrap(), 403).await;
    }
    assert_eq!(app.course_count().await, 0);
    assert_eq!(app.count("SELECT count(*) FROM erasures").await, 0);

    let service = service_user();
    for (body, field) in [
        (json!({}), "organizationId"),
        (
            json!({"organizationId": Uuid::new_v4(), "userId": Uuid::new_v4()}),
            "userId",
        ),
        (json!({"orgId": Uuid::new_v4()}), "orgId"),
        (json!({"userId": ""}), "userId"),
        (json!({"organizationId": 42}), "organizationId"),
        (json!({"organizationId": null}), "organizationId"),
    ] {
        assert_erase_refused(&app, "/api/v1/admin/erase", &body, field).await;
    }
    assert_problem(app.call(Method::GET, &unknown, &service).await, 404).await;
    let malformed = app
        .call(Method::GET, "/api/v1/admin/erase/nope", &service)
        .await;
    assert_problem(malformed, 404).await;

    // A second request for the subject joins the running erase.
    let whose = Whose::Org(Uuid::new_v4());
    let first = post_erase(&app, whose, false).await;
    let second = post_erase(&app, whose, false).await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (202, 202)
    );
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(await_erase(&app, &location).await["status"], "done");
    assert_eq!(app.count("SELECT count(*) FROM erasures").await, 1);
}

#[tokio::test]
async fn an_organization_spread_over_a_redis_cluster_is_erased_on_every_node() {
    let (_nodes, ports) = crate::cluster::cluster().await;
    let app = TestApp::spawn_with(|c| c.redis_url = crate::cluster::urls(&ports)).await;
    let seed = format!("redis://127.0.0.1:{}", ports[0]);
    let mut redis = redis::cluster::ClusterClient::new(vec![seed])
        .unwrap()
        .get_async_connection()
        .await
        .unwrap();
    // Forty users' drafts: their slots land on every node (see cluster.rs).
    let org = Uuid::new_v4();
    let mut keys = Vec::new();
    for _ in 0..40 {
        let member = member_of(Uuid::new_v4(), org);
        let draft = app.draft_id(&member, json!({})).await;
        keys.push(crate::helpers::draft_key(&member, &draft));
    }
    let elsewhere = member_of(Uuid::new_v4(), Uuid::new_v4());
    let kept = app.draft_id(&elsewhere, json!({"topic": "Kept"})).await;

    let state = erase_to_end(&app, Whose::Org(org)).await;
    let draft_keys = &state["report"]["counts"]["draftKeys"];
    assert_eq!(
        (draft_keys["before"].as_u64(), draft_keys["after"].as_u64()),
        (Some(40), Some(0))
    );
    for key in &keys {
        assert!(!redis.exists::<_, bool>(key).await.unwrap(), "{key} left");
    }
    assert_eq!(
        app.draft(&elsewhere, &kept).await["formData"]["topic"],
        "Kept"
    );

    // A user's erase on the cluster: the user's keys share one slot.
    let state = erase_to_end(&app, Whose::User(elsewhere.id)).await;
    assert_eq!(state["report"]["counts"]["draftKeys"]["before"], 1);
    let index = draftd::stores::redis::keys::index_key(elsewhere.id.into());
    assert!(!redis.exists::<_, bool>(&index).await.unwrap());
    assert!(!redis
        .exists::<_, bool>(crate::helpers::draft_key(&elsewhere, &kept))
        .await
        .unwrap());
}

/// The erase's command, the real binary, against `env`'s stores.
fn draftd(env: &[(&str, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_draftd"));
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// `count` courses of `org` with one stored file each, straight in SQL and
/// on disk (as a busy organization has), spread over three users.
async fn plant_courses(db: &tokio_postgres::Client, root: &Path, org: Uuid, count: usize) {
    let users = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    for n in 0..count {
        let (course, file) = (Uuid::new_v4(), Uuid::new_v4());
        let key = format!("{org}/{course}/{file}");
        db.execute(
            "INSERT INTO courses (id, owner_id, organization_id, slug, title, status)
             VALUES ($1, $2, $3, $4, 'Planted', 'submitted')",
            &[&course, &users[n % 3], &org, &course.to_string()],
        )
        .await
        .expect("course");
        db.execute(
            "INSERT INTO course_files (id, course_id, storage_key, original_name, content_type,
                 size_bytes, sha256) VALUES ($1, $2, $3, 'a.txt', 'text/plain', 5, 'x')",
            &[&file, &course, &key],
        )
        .await
        .expect("file row");
        let path: PathBuf = root.join(&key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"bytes").unwrap();
    }
}

/// The courses count of a progress line (`erase … : courses 20/300, …`).
fn courses_removed(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once(": courses ")?;
    rest.split('/').next()?.parse().ok()
}

#[tokio::test]
async fn a_killed_erase_resumes_where_it_stopped_and_reports_the_first_counts() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let base = crate::helpers::base_config();
    let database_url = crate::helpers::create_database(&base.database_url).await;
    let root = ScratchDir::new("erase");
    std::fs::create_dir_all(&root).unwrap();
    let env = [
        ("DRAFTD_DATABASE_URL", database_url.clone()),
        ("DRAFTD_REDIS_URL", base.redis_url.clone()),
        ("DRAFTD_UPLOAD_DIR", root.display().to_string()),
        ("DRAFTD_ERASE_BATCH_SIZE", "10".into()),
        // The erase waits out the longest request: keep it short.
        ("DRAFTD_BODY_DEADLINE_SECS", "3".into()),
        ("DRAFTD_LOG", "warn".into()),
    ];
    let migrated = draftd(&env).arg("migrate").status().await.unwrap();
    assert!(migrated.success());
    let (db, connection) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let (org, other) = (Uuid::new_v4(), Uuid::new_v4());
    plant_courses(&db, &root, org, 300).await;
    plant_courses(&db, &root, other, 5).await;
    // Two draft sessions of the organization in Redis, one of another.
    let mut redis = redis::Client::open(base.redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let sessions: Vec<(String, Uuid)> = [org, org, other]
        .into_iter()
        .map(|owner| {
            let key = draftd::stores::redis::keys::draft_key(
                Uuid::new_v4().into(),
                Uuid::new_v4().into(),
            );
            (key, owner)
        })
        .collect();
    for (key, owner) in &sessions {
        let _: () = redis
            .set_ex(key, Record::of(*owner).to_string(), 3600)
            .await
            .unwrap();
    }
    let count = |sql: &'static str, org: Uuid| {
        let db = &db;
        async move { db.query_one(sql, &[&org]).await.unwrap().get::<_, i64>(0) }
    };
    let courses = "SELECT count(*) FROM courses WHERE organization_id = $1";

    let mut first = draftd(&env)
        .args(["erase", "--org", &org.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let started = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if courses_removed(&line).is_some_and(|n| n > 0) {
                return line;
            }
        }
        panic!("the erase ended without deleting");
    })
    .await
    .expect("the erase starts deleting");
    first.start_kill().unwrap();
    let killed = first.wait().await.unwrap();
    assert!(!killed.success(), "killed mid-way ({started})");

    // Some of it is gone, not all of it: the files wait for the cleanup.
    let left = count(courses, org).await;
    let stored = files_under(&root.join(org.to_string())).len();
    assert!(
        left < 300 && (left > 0 || stored > 0),
        "{left} courses, {stored} files left"
    );
    println!("killed at {started:?}: {left} courses and {stored} files of 300 left");
    let row = db
        .query_one("SELECT status, before->>'courses' FROM erasures", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "running");
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("300"));

    let rerun = draftd(&env)
        .args(["erase", "--org", &org.to_string(), "--json"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&rerun.stdout).unwrap();
    println!("the resumed erase's report: {report}");
    assert_eq!(report["counts"]["courses"]["before"], 300, "{report}");
    assert_eq!(report["counts"]["courses"]["removed"], 300, "{report}");
    assert_eq!(report["counts"]["objects"]["before"], 300, "{report}");
    assert_eq!(report["counts"]["draftKeys"]["before"], 2, "{report}");
    for item in ITEMS {
        assert_eq!(report["counts"][item]["after"], 0, "{item}: {report}");
    }
    assert_eq!(report["integrity"]["clean"], true);
    // The same erase, resumed: one row, done.
    let erasures = db.query("SELECT status FROM erasures", &[]).await.unwrap();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].get::<_, String>(0), "done");
    assert_eq!(count(courses, org).await, 0);
    assert!(files_under(&root.join(org.to_string())).is_empty());
    assert_eq!(count(courses, other).await, 5);
    assert_eq!(files_under(&root.join(other.to_string())).len(), 5);
    for (key, owner) in &sessions {
        let exists: bool = redis.exists(key).await.unwrap();
        assert_eq!(exists, *owner == other, "{key}");
    }
}
