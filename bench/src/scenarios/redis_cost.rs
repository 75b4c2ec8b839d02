//! Benchmark 9: the autosave's own time inside Redis, against a floor.
//!
//! Redis's own time per call, free of the connection's shape: `INFO
//! commandstats` (`usec` over `calls` of EVALSHA, or FCALL) after a batch of
//! calls, the stats reset before it, the figure including the commands a
//! script calls; `INFO latencystats` gives the same calls' p50 and p99.9.
//! The floor ([`FLOOR`]) runs the commands a save needs and no Lua work on
//! the record, on drafts of its own of the same form. Against it, the
//! service's save run directly, pipelined as the floor, with the arguments
//! the service sends (built here as `RedisDrafts::patch` builds them), as a
//! script and as a function. Then typical autosaves through the service
//! (HTTP PATCH, `Prefer: return=minimal`, 8 in flight), each followed by one
//! call of the floor on a connection of the bench's own: the two are
//! measured in the same batch, under the same load of the service and the
//! bench on the same cores, so that the service's row has a floor of its
//! own conditions. The sides alternate in every round; the table gives
//! medians over the rounds.

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

/// The batches of a round, in the order it runs them.
#[derive(Clone, Copy, PartialEq)]
enum Batch {
    Floor,
    Script,
    Function,
    /// The service's saves, each followed by one call of the floor.
    Service,
}

impl Batch {
    const ALL: [Batch; 4] = [Batch::Floor, Batch::Script, Batch::Function, Batch::Service];
}

/// The table's rows: (name, the batch and command measured, the row whose
/// figure is its floor).
const ROWS: [(&str, Batch, Command, usize); 5] = [
    (
        "floor: the commands alone (EVALSHA, pipelined)",
        Batch::Floor,
        Command::Evalsha,
        0,
    ),
    (
        "the service's save as a script (EVALSHA, pipelined)",
        Batch::Script,
        Command::Evalsha,
        0,
    ),
    (
        "the same as a Redis Function (FCALL, the service's way, pipelined)",
        Batch::Function,
        Command::Fcall,
        0,
    ),
    (
        "floor beside the service: one call after each of its saves (EVALSHA, 8 in flight)",
        Batch::Service,
        Command::Evalsha,
        0,
    ),
    (
        "draftd's autosave through the service (HTTP PATCH, 8 in flight; FCALL)",
        Batch::Service,
        Command::Fcall,
        3,
    ),
];

#[derive(Clone, Copy)]
enum Command {
    Evalsha,
    Fcall,
}

/// One command's figures over one batch: µs per call (the mean), p50, p99.9.
#[derive(Clone, Copy)]
struct Figure {
    mean: f64,
    p50: f64,
    p999: f64,
}

pub async fn redis_cost(quick: bool) -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_redis_cost").await?;
    let service = Service::start(&db, &[("DRAFTD_AUTOSAVE_RATE_LIMIT", "1000000000")]).await?;
    // The bench's connection, and eight beside the service's saves.
    let mut config = deadpool_redis::Config::from_url(REDIS_URL.as_str());
    config.pool = Some(deadpool_redis::PoolConfig::new(16));
    let redis = config.create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let drafts = create_drafts(&service).await?;
    // The floor's own drafts: its ZADD would otherwise move the saves'
    // index entries behind their records' backs.
    let floor_drafts = create_drafts(&service).await?;
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

    let (rounds, calls) = if quick { (3, 500) } else { (15, 3000) };
    let mut figures = vec![Vec::new(); ROWS.len()];
    let mut serial = 0;
    for round in 0..=rounds {
        for batch in Batch::ALL {
            redis::cmd("CONFIG")
                .arg("RESETSTAT")
                .query_async::<()>(&mut conn)
                .await?;
            match batch {
                Batch::Floor => {
                    direct_saves(&mut conn, &floor_drafts, serial, calls, Some(&floor)).await?
                }
                Batch::Script => {
                    direct_saves(&mut conn, &drafts, serial, calls, Some(&script)).await?
                }
                Batch::Function => direct_saves(&mut conn, &drafts, serial, calls, None).await?,
                Batch::Service => {
                    service_saves(
                        &service,
                        &redis,
                        &drafts,
                        &floor_drafts,
                        &floor,
                        serial,
                        calls,
                    )
                    .await?
                }
            }
            serial += calls;
            let stats = command_stats(&mut conn).await?;
            // Round 0 warms up: not measured.
            for (row, (_, measured, command, _)) in ROWS.iter().enumerate() {
                if round > 0 && *measured == batch {
                    figures[row].push(stats[*command as usize]);
                }
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

fn report(figures: &[Vec<Figure>], rounds: usize, calls: usize) -> anyhow::Result<String> {
    let mut doc = String::from("## 9. The autosave's time inside Redis\n\n");
    writeln!(
        doc,
        "Redis's own time per call, from `INFO commandstats` (its `usec` over its `calls`, the \
         stats reset before each batch; a script's figure includes the commands it calls), so \
         the connection's shape cannot move it; beside it the same calls' p50 and p99.9 from \
         `INFO latencystats` (whole µs: Redis times each call in µs). The floor \
         (`bench/src/reference/floor.lua`) runs the commands an autosave needs (INCR and, as a \
         window opens, PEXPIRE of the rate window, GET, TIME, SET … PX, ZADD, PEXPIRE, PUBLISH) \
         with the autosave's own arguments on {DRAFTS} drafts of its own, a typical form each (a \
         record of about 650 bytes), and does no Lua work on the record. The service's save runs \
         on {DRAFTS} drafts of the same form, directly, pipelined as the floor is, with the \
         arguments the service sends (typical autosaves: the description sent whole, 400 \
         characters, and a number), as a script and as the function the service calls. Then the \
         same saves through the service (HTTP PATCH, `Prefer: return=minimal`, 8 in flight), \
         each followed by one call of the floor from the bench: the two are measured in the same \
         batch, so the service's row is read against a floor of its own conditions. Those \
         conditions, not the save, are what put the service's row above the function's: each \
         call arrives alone, between the service's and the bench's own work on the machine's \
         two cores, so it runs with cold caches, and now and then Redis is preempted in the \
         middle of one, which counts the wait, milliseconds, in that call's time (the p99.9 \
         column). The floor beside the service pays the same: its ratio to the pipelined floor \
         is what those conditions add, and the service's row is read against it. {calls} calls a side per round, \
         the sides alternating, {rounds} rounds after one unmeasured; medians, and the median of \
         each round's ratio to that round's floor. The saves here move a draft's index entry \
         about once a minute, so almost never; a page saving every 3 s moves it one save in 20, \
         a twentieth of a ZADD and a PEXPIRE more. The steps that led here, each measured \
         against the floor when it was made, are in docs/design.md (\"The autosave's time \
         inside Redis\").\n"
    )?;
    doc.push_str(
        "| side | Redis µs/call | ratio to its floor | p50 µs | p99.9 µs |\n|---|---|---|---|---|\n",
    );
    for (row, (name, _, _, floor_row)) in ROWS.iter().enumerate() {
        let values = &figures[row];
        let floor = &figures[*floor_row];
        let ratios: Vec<f64> = values
            .iter()
            .zip(floor)
            .map(|(v, f)| v.mean / f.mean.max(0.01))
            .collect();
        let of = |pick: fn(&Figure) -> f64| median(&values.iter().map(pick).collect::<Vec<_>>());
        let against = if *floor_row == row {
            String::new()
        } else {
            format!(" (to row {})", floor_row + 1)
        };
        writeln!(
            doc,
            "| {}. {} | {:.1} | **{:.2}**{} | {:.0} | {:.0} |",
            row + 1,
            name,
            of(|f| f.mean),
            median(&ratios),
            against,
            of(|f| f.p50),
            of(|f| f.p999),
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

/// The figures of EVALSHA and of FCALL since the stats were reset, from
/// `INFO commandstats` and `INFO latencystats`.
async fn command_stats(conn: &mut deadpool_redis::Connection) -> anyhow::Result<[Figure; 2]> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .arg("latencystats")
        .query_async(conn)
        .await?;
    let stats = |command: &str| {
        let line = |prefix: String| {
            info.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()).map(str::to_owned))
        };
        let field = |line: &Option<String>, name: &str| {
            line.as_deref()
                .and_then(|line| line.split(',').find_map(|kv| kv.strip_prefix(name)))
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let calls = line(format!("cmdstat_{command}:"));
        let latency = line(format!("latency_percentiles_usec_{command}:"));
        Figure {
            mean: field(&calls, "usec=") / field(&calls, "calls=").max(1.0),
            p50: field(&latency, "p50="),
            p999: field(&latency, "p99.9="),
        }
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

/// `calls` autosaves through the service, eight at a time, each followed
/// by one call of the floor on one of eight connections of the bench's.
async fn service_saves(
    service: &Service,
    redis: &deadpool_redis::Pool,
    drafts: &[Draft],
    floor_drafts: &[Draft],
    floor: &Script,
    serial: usize,
    calls: usize,
) -> anyhow::Result<()> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};

    let http = client();
    let mut connections = Vec::with_capacity(8);
    for _ in 0..8 {
        connections.push(tokio::sync::Mutex::new(redis.get().await?));
    }
    let connections = &connections;
    stream::iter(serial..serial + calls)
        .map(|i| {
            let draft = &drafts[i % drafts.len()];
            let request = http
                .patch(format!("{}/api/v1/drafts/{}", service.base, draft.id))
                .bearer_auth(&draft.token)
                .header("content-type", "application/merge-patch+json")
                .header("prefer", "return=minimal")
                .body(json!({ "formData": whole_description(i) }).to_string());
            let floor_call = save_command(&floor_drafts[i % floor_drafts.len()], i, Some(floor));
            async move {
                request.send().await?.error_for_status()?;
                let mut conn = connections[i % connections.len()].lock().await;
                floor_call.query_async::<redis::Value>(&mut *conn).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await?;
    Ok(())
}

/// `calls` autosaves by `script` run directly, in pipelines of 100, with
/// the arguments the service sends ([`save_command`]).
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
            pipe.add_command(save_command(&drafts[i % drafts.len()], i, script));
        }
        let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
        anyhow::ensure!(replies.len() == batch.len(), "a pipeline lost replies");
    }
    Ok(())
}

/// Autosave `i` of `draft` by `script` (FCALL of the function when `None`).
fn save_command(draft: &Draft, i: usize, script: Option<&Script>) -> redis::Cmd {
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
    cmd
}
