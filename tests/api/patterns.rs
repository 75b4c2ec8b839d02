//! Cleanup reach (invariant 9): erasing a course erases the platform's Redis
//! keys that `DRAFTD_CLEANUP_REDIS_PATTERNS` names, on one node and on every
//! primary of a cluster, with one keyspace scan per pattern for a whole batch
//! of erased courses.

use deadpool_redis::redis::{self, AsyncCommands};
use serde_json::{json, Value};

use crate::helpers::{ScratchDir, TestApp};
use crate::servers::{free_port, redis_server, ServerProcess};

const PATTERNS: &str =
    "idempotency:generation-{courseId}-*, bull:course-generation:{courseId}:*, rag:{ctx}:{courseId}";

/// The platform's keys of a course, and a look-alike of another course's.
fn keys_of(course: &str) -> [String; 3] {
    [
        format!("idempotency:generation-{course}-1"),
        format!("bull:course-generation:{course}:7"),
        format!("rag:{{ctx}}:{course}"),
    ]
}

/// A redis-server of the test's own: the process, its URL, a connection.
async fn own_redis() -> (ServerProcess, String, redis::aio::MultiplexedConnection) {
    let port = free_port();
    let dir = ScratchDir::new("patterns");
    let server = redis_server(port, &dir, &[]).await;
    let url = format!("redis://127.0.0.1:{port}");
    let conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    (server, url, conn)
}

async fn course(app: &TestApp) -> String {
    let draft = app.draft_id(&app.user, json!({"topic": "Generated"})).await;
    let file: Value = app
        .upload_text(&app.user, &draft, "plan.txt", b"plan")
        .await
        .json()
        .await
        .unwrap();
    file["courseId"].as_str().unwrap().to_owned()
}

/// Erases `count` courses in one purge, with their platform keys planted
/// through `redis`; checks that exactly theirs are gone.
async fn erase_and_check<C: AsyncCommands>(app: &TestApp, redis: &mut C, count: usize) {
    let other = uuid::Uuid::new_v4().to_string();
    let mut erased = Vec::new();
    for _ in 0..count {
        let id = course(app).await;
        for key in keys_of(&id) {
            let _: () = redis.set(&key, "x").await.unwrap();
        }
        app.trash_course(&app.user, &id).await;
        app.set_purge_at(&id, -1.0).await;
        erased.push(id);
    }
    let look_alikes = keys_of(&other);
    for key in &look_alikes {
        let _: () = redis.set(key, "x").await.unwrap();
    }
    // The prefix alone is not the course's: a longer id-like suffix stays.
    let longer = format!("rag:{{ctx}}:{}0", erased[0]);
    let _: () = redis.set(&longer, "x").await.unwrap();

    assert_eq!(app.run_purge(false).await.processed, count as u64);
    app.run_cleanup().await;
    for id in &erased {
        for key in keys_of(id) {
            assert!(!redis.exists::<_, bool>(&key).await.unwrap(), "{key} left");
        }
    }
    for key in look_alikes.iter().chain([&longer]) {
        assert!(redis.exists::<_, bool>(key).await.unwrap(), "{key} erased");
    }
}

#[tokio::test]
async fn erasing_courses_erases_their_platform_keys_in_one_scan_per_pattern() {
    // A Redis of the test's own, so that its SCAN count is this test's alone.
    let (_redis_server, url, mut redis) = own_redis().await;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = url.clone();
        c.cleanup_redis_patterns = vec![PATTERNS.into()];
        // The service's worker runs when woken (after the purge), not on a
        // poll in the middle of the purge's commits: the batch is the purge's.
        c.cleanup_poll_ms = 3_600_000;
    })
    .await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut redis)
        .await
        .unwrap();

    let courses = 12;
    erase_and_check(&app, &mut redis, courses).await;

    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis)
        .await
        .unwrap();
    let scans: u64 = stats
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap());
    // Three patterns; the service's own worker may take part of the batch
    // while the test's pass takes the rest: at most two passes.
    assert!(
        (1..=6).contains(&scans),
        "{scans} scans for {courses} courses"
    );
}

#[tokio::test]
async fn erasing_courses_erases_their_platform_keys_on_every_cluster_primary() {
    let (_nodes, ports) = crate::cluster::cluster().await;
    let app = TestApp::spawn_with(|c| {
        c.redis_url = crate::cluster::urls(&ports);
        c.cleanup_redis_patterns = vec![PATTERNS.into()];
    })
    .await;
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.1:{}", ports[0])])
            .unwrap();
    let mut redis = client.get_async_connection().await.unwrap();
    // Twelve courses' keys land in slots of all three primaries.
    erase_and_check(&app, &mut redis, 12).await;
}

#[tokio::test]
async fn a_pattern_without_a_placeholder_is_refused_at_startup() {
    let mut config = crate::helpers::base_config();
    config.cleanup_redis_patterns = vec!["bull:course-generation:*".into()];
    config.jwt_secret = Some(crate::helpers::SECRET.into());
    config.bind = "127.0.0.1:0".into();
    let refused = draftd::startup::Application::build(&config).await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("DRAFTD_CLEANUP_REDIS_PATTERNS"), "{error}");
}

/// An organization's erase takes its courses' platform keys and the
/// organization's own; a user-only pattern waits for that user's erase;
/// another organization's keys stay. The dry run predicts the count.
#[tokio::test]
async fn erasing_an_organization_erases_its_platform_keys_and_reports_them() {
    use crate::erase::{erase_to_end, member_of, post_erase, Whose};

    let (_redis_server, url, mut redis) = own_redis().await;
    let patterns = format!("{PATTERNS},rag:org:{{orgId}}:*,session:{{userId}}");
    let app = TestApp::spawn_with(|c| {
        c.redis_url = url.clone();
        c.cleanup_redis_patterns = vec![patterns];
    })
    .await;
    let (org, other_org, user) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let member = member_of(user, org);
    let mut doomed = Vec::new();
    for _ in 0..2 {
        let draft = app.draft_id(&member, json!({"topic": "Erased"})).await;
        let file: Value = app
            .upload_text(&member, &draft, "plan.txt", b"plan")
            .await
            .json()
            .await
            .unwrap();
        doomed.extend(keys_of(file["courseId"].as_str().unwrap()));
    }
    doomed.push(format!("rag:org:{org}:cache"));
    let kept = [
        format!("rag:org:{other_org}:cache"),
        format!("session:{user}"),
        keys_of(&uuid::Uuid::new_v4().to_string())[0].clone(),
    ];
    for key in doomed.iter().chain(&kept) {
        let _: () = redis.set(key, "x").await.unwrap();
    }

    let predicted: Value = post_erase(&app, Whose::Org(org), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(predicted["counts"]["patternKeys"]["before"], doomed.len());
    let state = erase_to_end(&app, Whose::Org(org)).await;
    let counts = &state["report"]["counts"]["patternKeys"];
    assert_eq!(
        (
            counts["before"].as_u64(),
            counts["removed"].as_u64(),
            counts["after"].as_u64()
        ),
        (
            Some(doomed.len() as u64),
            Some(doomed.len() as u64),
            Some(0)
        ),
        "{state}"
    );
    for key in &doomed {
        assert!(!redis.exists::<_, bool>(key).await.unwrap(), "{key} left");
    }
    for key in &kept {
        assert!(redis.exists::<_, bool>(key).await.unwrap(), "{key} erased");
    }
}
