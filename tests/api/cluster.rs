//! A 3-node Redis Cluster started by the test: every user's keys share one
//! hash slot, the scripts run there, and the jobs that read many users' keys
//! (janitor, stats, orphan sweep) reach every node.

use std::collections::HashSet;

use deadpool_redis::redis::cluster::ClusterClient;
use deadpool_redis::redis::{self, AsyncCommands};
use draftd::stores::redis::keys::index_key;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{draft_key, new_user, wait_until, ScratchDir, TestApp};
use crate::servers::{free_port, redis_server, ServerProcess};

/// Three primaries on loopback, their data removed after them.
pub struct Cluster {
    _nodes: Vec<ServerProcess>,
    _data: ScratchDir,
}

/// Three primaries on loopback, slots split between them, no replicas.
pub async fn cluster() -> (Cluster, Vec<u16>) {
    let root = ScratchDir::new("cluster");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for port in &ports {
        let dir = root.join(port.to_string());
        let args = ["--cluster-enabled", "yes", "--appendonly", "no"];
        nodes.push(redis_server(*port, &dir, &args).await);
    }
    let status = tokio::process::Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(ports.iter().map(|port| format!("127.0.0.1:{port}")))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("redis-cli runs");
    assert!(status.success(), "cluster create: {status:?}");
    // Every node must agree that all slots are served before the test starts.
    for port in &ports {
        wait_until("every node reports cluster_state:ok", || async move {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut node(*port).await)
                .await
                .unwrap_or_default();
            info.contains("cluster_state:ok")
        })
        .await;
    }
    let cluster = Cluster {
        _nodes: nodes,
        _data: root,
    };
    (cluster, ports)
}

async fn node(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

pub fn urls(ports: &[u16]) -> String {
    let urls: Vec<String> = ports
        .iter()
        .map(|port| format!("redis://127.0.0.1:{port}"))
        .collect();
    urls.join(",")
}

#[tokio::test]
async fn the_service_works_against_a_redis_cluster() {
    let (_nodes, ports) = cluster().await;
    let app = TestApp::spawn_with(|c| c.redis_url = urls(&ports)).await;
    let client = ClusterClient::new(vec![format!("redis://127.0.0.1:{}", ports[0])]).unwrap();
    let mut redis = client.get_async_connection().await.unwrap();

    // Enough users that their slots land on every node (all but certainly:
    // the chance that 40 random slots miss one of three nodes is 1 in 60,000).
    let users: Vec<_> = (0..40).map(|_| new_user()).collect();
    let mut drafts = Vec::new();
    for user in &users {
        let draft = app.new_draft(user, json!({"topic": "Clustered"})).await;
        drafts.push(draft["id"].as_str().unwrap().to_owned());
    }
    let mut nodes_used = HashSet::new();
    for (user, id) in users.iter().zip(&drafts) {
        let session: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(draft_key(user, id))
            .query_async(&mut redis)
            .await
            .unwrap();
        let index: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(index_key(user.id.into()))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(session, index, "a user's keys share one slot");
        for port in &ports {
            let mut conn = node(*port).await;
            let here: i64 = redis::cmd("CLUSTER")
                .arg("COUNTKEYSINSLOT")
                .arg(session)
                .query_async(&mut conn)
                .await
                .unwrap();
            if here > 0 {
                nodes_used.insert(*port);
            }
        }
    }
    assert_eq!(nodes_used.len(), 3, "the drafts are spread over every node");

    // The autosave script: concurrent writes of different fields all survive,
    // a stale If-Match is refused.
    let (user, id) = (&users[0], &drafts[0]);
    let writes = ["description", "targetAudience", "learningOutcomes"]
        .map(|field| app.patch_draft(user, id, json!({ field: format!("{field} text") }), None));
    for response in join_all(writes).await {
        assert_eq!(response.status(), 200);
    }
    let draft = app.draft(user, id).await;
    assert_eq!(draft["version"], 4);
    for field in ["description", "targetAudience", "learningOutcomes"] {
        assert_eq!(draft["formData"][field], format!("{field} text"));
    }
    let stale = app
        .patch_draft(user, id, json!({"topic": "Lost"}), Some("\"1\""))
        .await;
    assert_eq!(stale.status(), 412);
    let listed = app.get_json(user, "/api/v1/drafts").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // A second replica on the same cluster and database: racing uploads and
    // materializations of one draft through both still make one course.
    let (database_url, upload_dir) = (
        app.config.database_url.clone(),
        app.config.upload_dir.clone(),
    );
    let replica = TestApp::spawn_with(|c| {
        c.redis_url = urls(&ports);
        c.database_url = database_url;
        c.upload_dir = upload_dir;
    })
    .await;
    let (racer, racing_draft) = (&users[6], &drafts[6]);
    let racing = (0..12).map(|i| {
        let side = if i % 2 == 0 { &app } else { &replica };
        async move {
            let response = if i % 3 == 0 {
                side.draft_action(racer, racing_draft, "materialize").await
            } else {
                side.upload(
                    racer,
                    racing_draft,
                    &format!("f{i}.txt"),
                    "text/plain",
                    b"x".to_vec(),
                )
                .await
            };
            let body: Value = response.json().await.unwrap();
            body["courseId"].as_str().unwrap().to_owned()
        }
    });
    let courses: HashSet<String> = join_all(racing).await.into_iter().collect();
    assert_eq!(courses.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM courses WHERE status = 'draft'")
            .await,
        1
    );
    assert_eq!(
        replica.draft(racer, racing_draft).await["status"],
        "materialized"
    );

    // Materialize, submit and discard run their scripts on the user's node.
    let materialized = app.draft_action(&users[1], &drafts[1], "materialize").await;
    assert_eq!(materialized.status(), 201);
    let submitted = app.draft_action(&users[2], &drafts[2], "submit").await;
    assert_eq!(submitted.status(), 201);
    assert_eq!(
        app.draft(&users[2], &drafts[2]).await["status"],
        "submitted"
    );
    let discarded = app.delete_draft(&users[3], &drafts[3]).await;
    assert_eq!(discarded.status(), 204);
    assert_eq!(app.get_draft(&users[3], &drafts[3]).await.status(), 410);

    // Stats count the sessions of every node.
    let stats = app.admin(Method::GET, "/api/v1/admin/stats").await;
    assert_eq!(stats["liveSessions"], users.len() - 1);

    // The janitor checks sessions on every node: of two stale courses, it
    // keeps the one whose session lives and deletes the other.
    let materialize = |i: usize| {
        let response = app.draft_action(&users[i], &drafts[i], "materialize");
        async { response.await.json::<Value>().await.unwrap() }
    };
    let kept = materialize(4).await;
    let gone = materialize(5).await;
    let _: () = redis.del(draft_key(&users[5], &drafts[5])).await.unwrap();
    for course in [&kept, &gone, &materialized.json::<Value>().await.unwrap()] {
        app.age_course(course["courseId"].as_str().unwrap(), 25)
            .await;
    }
    let report = app.admin(Method::POST, "/api/v1/admin/janitor/run").await;
    assert_eq!(report["candidates"], 3);
    assert_eq!(report["skippedAlive"], 2);
    assert_eq!(report["deleted"], 1);

    // The orphan sweep reads every node's sessions.
    let sweep = app
        .admin(Method::POST, "/api/v1/admin/orphans/sweep?dryRun=true")
        .await;
    assert_eq!(sweep["sessionsChecked"], users.len() - 2);
    assert_eq!(sweep["orphanSessions"], 0);
}

/// On a cluster, the scripts publish each draft's events on a sharded
/// channel in its user's slot (SPUBLISH), and a replica's streams receive
/// them through its own subscriber connection (SSUBSCRIBE), on every node.
#[tokio::test]
async fn live_events_reach_streams_on_a_redis_cluster() {
    let (_nodes, ports) = cluster().await;
    let app = TestApp::spawn_with(|c| c.redis_url = urls(&ports)).await;
    let replica = TestApp::spawn_with(|c| c.redis_url = urls(&ports)).await;
    // Users whose slots, all but certainly, lie on more than one node.
    let users: Vec<_> = (0..6).map(|_| new_user()).collect();
    let mut streams = Vec::new();
    for user in &users {
        let id = app.draft_id(user, json!({"topic": "Sharded"})).await;
        let (stream, hello) = replica.stream(user, &id).await;
        assert_eq!(hello, json!({"version": 1, "status": "open"}));
        streams.push((user, id, stream));
    }
    for (user, id, stream) in &mut streams {
        let saved = app.patch_draft(user, id, json!({"language": "ru"}), None);
        assert_eq!(saved.await.status(), 200);
        let (event, data) = stream.event().await;
        assert_eq!(event, "saved");
        assert_eq!(
            data,
            json!({"type": "saved", "version": 2, "patch": {"language": "ru"}})
        );
    }
    let (user, id, stream) = &mut streams[0];
    assert_eq!(app.draft_action(user, id, "submit").await.status(), 201);
    assert_eq!(stream.event().await.0, "submitted");
    stream.assert_ends().await;
    let (user, id, stream) = &mut streams[1];
    assert_eq!(app.delete_draft(user, id).await.status(), 204);
    assert_eq!(stream.event().await.0, "discarded");
    stream.assert_ends().await;
}
