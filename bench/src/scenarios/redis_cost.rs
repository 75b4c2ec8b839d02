//! Benchmark 9: the autosave's own time inside Redis, against a floor.
//!
//! Redis's own time per call, free of the connection's shape: the diff of
//! `INFO commandstats` (`usec` over `calls` of EVALSHA, or FCALL) around a
//! batch of calls, the figure including the commands a script calls. The
//! floor ([`FLOOR`]) runs the commands a save needs and no Lua work on the
//! record. Beside it: typical autosaves through the service (HTTP PATCH,
//! `Prefer: return=minimal`), then each variant of the script run directly
//! with the arguments the service sends (built here as
//! `RedisDrafts::patch` builds them) on the same drafts: the variants cannot
//! go through the service, which runs only its own. The sides alternate in
//! every round; the table gives medians over the rounds.

use std::fmt::Write as _;

use deadpool_redis::redis::{self, Script};
use draftd::domain::ids::{DraftId, UserId};
use draftd::stores::redis::drafts::framed;
use draftd::stores::redis::keys::{draft_key, events_channel, index_key, rate_key};
use serde_json::json;
use uuid::Uuid;

use super::{client, typical_draft, whole_description};
use crate::service::{fresh_database, new_user, Service, REDIS_URL};

/// The floor: INCR (+ PEXPIRE) of the rate window, GET, TIME, SET … PX,
/// ZADD, PEXPIRE, PUBLISH, the record written back as it was read.
const FLOOR: &str = include_str!("../reference/floor.lua");
const LIBRARY: &str = include_str!("../../../src/stores/redis/lua/lib.lua");
const PATCH: &str = include_str!("../../../src/stores/redis/lua/patch.lua");
const DRAFTS: usize = 50;
const TTL_MS: &str = "86400000";

/// One typist's draft and what its autosaves need.
struct Draft {
    user: Uuid,
    org: Uuid,
    id: Uuid,
    token: String,
}

/// The sides, in the order each round runs them.
#[derive(Clone, Copy)]
enum Side {
    Floor,
    Service,
    Script,
    Function,
}

impl Side {
    const ALL: [Side; 4] = [Side::Floor, Side::Service, Side::Script, Side::Function];

    fn name(self) -> &'static str {
        match self {
            Side::Floor => "floor: the commands alone (EVALSHA)",
            Side::Service => "draftd's autosave through the service (HTTP PATCH)",
            Side::Script => "the service's save as a script (EVALSHA)",
            Side::Function => "the same as a Redis Function (FCALL, the service's way)",
        }
    }
}

pub async fn redis_cost(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_redis_cost").await?;
    let service = Service::start(&db, &[("DRAFTD_AUTOSAVE_RATE_LIMIT", "1000000000")]).await?;
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let drafts = create_drafts(&service).await?;
    let prelude = "local PUBLISH_COMMAND = 'PUBLISH'\n";
    let floor = Script::new(FLOOR);
    let script = Script::new(&format!("{prelude}{LIBRARY}{PATCH}"));
    for script in [&floor, &script] {
        script.prepare_invoke().load_async(&mut conn).await?;
    }
    let library = format!(
        "#!lua name=draftd_bench\n{prelude}{LIBRARY}\nredis.register_function('draftd_bench_patch', function(KEYS, ARGV)\n{PATCH}\nend)\n"
    );
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(library)
        .query_async::<String>(&mut conn)
        .await?;

    let (rounds, calls) = if quick { (3, 500) } else { (7, 3000) };
    let mut figures = vec![Vec::new(); Side::ALL.len()];
    let mut serial = 0;
    for round in 0..=rounds {
        for (s, side) in Side::ALL.into_iter().enumerate() {
            let before = command_stats(&mut conn).await?;
            match side {
                Side::Service => service_saves(&service, &drafts, serial, calls).await?,
                Side::Function => direct_saves(&mut conn, &drafts, serial, calls, None).await?,
                Side::Floor => {
                    direct_saves(&mut conn, &drafts, serial, calls, Some(&floor)).await?
                }
                Side::Script => {
                    direct_saves(&mut conn, &drafts, serial, calls, Some(&script)).await?
                }
            }
            serial += calls;
            let after = command_stats(&mut conn).await?;
            // The service calls its scripts as Redis Functions.
            let command = if matches!(side, Side::Service | Side::Function) {
                1
            } else {
                0
            };
            let (calls, usec) = (
                after[command].0 - before[command].0,
                after[command].1 - before[command].1,
            );
            // Round 0 warms up: not measured.
            if round > 0 {
                figures[s].push(usec as f64 / calls.max(1) as f64);
            }
        }
    }
    redis::cmd("FUNCTION")
        .arg("DELETE")
        .arg("draftd_bench")
        .query_async::<()>(&mut conn)
        .await?;
    service.stop().await;
    report(&figures, rounds, calls)
}

fn report(figures: &[Vec<f64>], rounds: usize, calls: usize) -> anyhow::Result<String> {
    let floor = &figures[0];
    let moves = calls / DRAFTS;
    let mut doc = String::from("## 9. The autosave's time inside Redis\n\n");
    writeln!(
        doc,
        "Redis's own time per call, from `INFO commandstats` (its `usec` over its `calls`, diffed \
         around each batch; a script's figure includes the commands it calls), so the connection's \
         shape cannot move it. The floor (`bench/src/reference/floor.lua`) runs the commands an \
         autosave needs (INCR and, as a window opens, PEXPIRE of the rate window, GET, TIME, SET … \
         PX, ZADD, PEXPIRE, PUBLISH) on the same {DRAFTS} drafts, a typical form each (a record of \
         about 640 bytes), with the autosave's own arguments, and does no Lua work on the record. \
         The service's row is typical autosaves through draftd (`Prefer: return=minimal`, the \
         description sent whole, 400 characters, and a number); the other rows run a variant of \
         the script directly with the arguments the service sends. {calls} calls a side per \
         round, the sides alternating, {rounds} rounds after one unmeasured; medians, and the \
         median of each round's ratio to that round's floor. The script row moves a draft's index \
         entry on its first save of a round, one save in {moves}, and the function row after it \
         none; a page saving every 3 s moves it one save in 20, a twentieth of a ZADD and a \
         PEXPIRE more. The steps that led here, each measured against the floor when it was \
         made, are in docs/design.md (\"The autosave's time inside Redis\").\n"
    )?;
    doc.push_str("| side | Redis µs/call | ratio to the floor |\n|---|---|---|\n");
    for (side, values) in Side::ALL.iter().zip(figures) {
        let ratios: Vec<f64> = values
            .iter()
            .zip(floor)
            .map(|(v, f)| v / f.max(0.01))
            .collect();
        writeln!(
            doc,
            "| {} | {:.1} | **{:.2}** |",
            side.name(),
            median(values),
            median(&ratios)
        )?;
    }
    doc.push('\n');
    Ok(doc)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// (calls, usec) of EVALSHA and of FCALL, from `INFO commandstats`.
async fn command_stats(conn: &mut deadpool_redis::Connection) -> anyhow::Result<[(u64, u64); 2]> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await?;
    let stats = |command: &str| {
        let prefix = format!("cmdstat_{command}:");
        let line = info
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()));
        let field = |name: &str| {
            line.and_then(|line| line.split(',').find_map(|kv| kv.strip_prefix(name)))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        (field("calls="), field("usec="))
    };
    Ok([stats("evalsha"), stats("fcall")])
}

async fn create_drafts(service: &Service) -> anyhow::Result<Vec<Draft>> {
    let http = client();
    let mut drafts = Vec::with_capacity(DRAFTS);
    for _ in 0..DRAFTS {
        let org = Uuid::new_v4();
        let (user, token) = new_user(org);
        let id = typical_draft(&http, &service.base, &token).await?.parse()?;
        drafts.push(Draft {
            user,
            org,
            id,
            token,
        });
    }
    Ok(drafts)
}

/// `calls` autosaves through the service, eight at a time.
async fn service_saves(
    service: &Service,
    drafts: &[Draft],
    serial: usize,
    calls: usize,
) -> anyhow::Result<()> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};

    let http = client();
    stream::iter(serial..serial + calls)
        .map(|i| {
            let draft = &drafts[i % drafts.len()];
            let request = http
                .patch(format!("{}/api/v1/drafts/{}", service.base, draft.id))
                .bearer_auth(&draft.token)
                .header("content-type", "application/merge-patch+json")
                .header("prefer", "return=minimal")
                .body(json!({ "formData": whole_description(i) }).to_string());
            async move { request.send().await?.error_for_status().map(|_| ()) }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await?;
    Ok(())
}

/// `calls` autosaves by `script` run directly (FCALL of the function when
/// `None`), in pipelines of 100, with the arguments the service sends.
async fn direct_saves(
    conn: &mut deadpool_redis::Connection,
    drafts: &[Draft],
    serial: usize,
    calls: usize,
    script: Option<&Script>,
) -> anyhow::Result<()> {
    for batch in (serial..serial + calls).collect::<Vec<_>>().chunks(100) {
        let mut pipe = redis::pipe();
        for &i in batch {
            let draft = &drafts[i % drafts.len()];
            let (user, id) = (UserId::from(draft.user), DraftId::from(draft.id));
            let mut cmd = match script {
                Some(script) => {
                    let mut cmd = redis::cmd("EVALSHA");
                    cmd.arg(script.get_hash());
                    cmd
                }
                None => {
                    let mut cmd = redis::cmd("FCALL");
                    cmd.arg("draftd_bench_patch");
                    cmd
                }
            };
            let patch = whole_description(i);
            cmd.arg(4)
                .arg(draft_key(user, id))
                .arg(index_key(user))
                .arg(rate_key(user))
                .arg(events_channel(user, id))
                .arg(draft.id.to_string())
                .arg(draft.org.to_string())
                .arg(TTL_MS)
                .arg("")
                .arg(1_000_000_000)
                .arg(60_000)
                .arg(patch.to_string())
                .arg("minimal")
                .arg(2);
            for field in ["description", "estimatedLessons"] {
                cmd.arg(framed(field)).arg(patch[field].to_string());
            }
            pipe.add_command(cmd);
        }
        let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
        anyhow::ensure!(replies.len() == batch.len(), "a pipeline lost replies");
    }
    Ok(())
}
