//! Benchmark 5: the hygiene simulation.

mod crash;
mod tally;
mod visit;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use reqwest::Client;
use serde_json::Value;
use uuid::Uuid;

use super::{client, course_ids, select_i64, wait_for};
use crate::receiver::Receiver;
use crate::service::{connect, fresh_database, service_token, Service, REDIS_URL};
use crate::visits::{check_events, Visit, MIX};
use crash::{crash_mid_uploads, CUT_UPLOADS};
use tally::{sessions, Stores, Tally};
use visit::{check_kept, visit, Outcome};

/// The service's draft TTL, in quick and full runs: longer than the visits,
/// the retention and the purge take together, so that when the run counts
/// draft keys after the purge, a key the purge or an erase left behind
/// would still be alive (the run checks that it is early enough).
const TTL: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(600)];
/// The service's trash retention.
const RETENTION: Duration = Duration::from_secs(2);
/// The longest the run waits for an erase, the retention, the TTL or the cleanup queue.
const PATIENCE: Duration = Duration::from_secs(120);
/// The service's signing secret for the receiver (which does not check it:
/// the tests do).
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Benchmark 5: The product's purpose, simulated: 10,000 form visits, then
/// past the trash retention and the TTL.
pub async fn hygiene(quick: bool) -> anyhow::Result<String> {
    let (visits, ttl) = if quick {
        (1000, TTL[0])
    } else {
        (10_000, TTL[1])
    };
    let url = fresh_database("draftd_bench_hygiene").await?;
    let (ttl_secs, retention) = (ttl.as_secs().to_string(), RETENTION.as_secs().to_string());
    let receiver = Receiver::start()?;
    let mut service = Service::start(
        &url,
        &[
            ("DRAFTD_DRAFT_TTL_SECS", &ttl_secs),
            ("DRAFTD_TRASH_RETENTION_SECS", &retention),
            ("DRAFTD_CLEANUP_POLL_MS", "100"),
            ("DRAFTD_WEBHOOK_URL", &receiver.url),
            ("DRAFTD_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("DRAFTD_WEBHOOK_POLL_MS", "100"),
            ("DRAFTD_WEBHOOK_BACKOFF_MS", "100"),
            // The crash's residue counts once a second old.
            ("DRAFTD_ORPHAN_GRACE_SECS", "1"),
            // What is measured is what is left, not latency: a store slowed
            // by a busy machine must not fail a visit.
            ("DRAFTD_STORE_TIMEOUT_MS", "15000"),
        ],
    )
    .await?;
    let db = connect(&url).await?;
    let http = client();
    let org = Uuid::new_v4();
    let base = service.base.clone();

    let started = Instant::now();
    let outcomes = stream::iter(0..visits)
        .map(|i| visit(&http, &base, org, i))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let outcomes: Vec<Outcome> = outcomes.into_iter().collect::<Result<_, _>>()?;
    let visits_took = started.elapsed();
    let residue = crash_mid_uploads(&http, &mut service, &outcomes).await?;
    anyhow::ensure!(
        residue.found.0 == CUT_UPLOADS as u64
            && residue.removed == CUT_UPLOADS as u64
            && residue.found_after == 0
            && residue.staging_left == 0,
        "the crash's residue was not swept: {residue:?}"
    );
    let stores = Stores {
        db: &db,
        upload_dir: &service.upload_dir,
        redis: deadpool_redis::Config::from_url(REDIS_URL.as_str())
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))?,
        users: outcomes.iter().map(|o| o.user).collect(),
        erased: outcomes
            .iter()
            .filter(|o| o.visit.erases_account())
            .map(|o| o.user)
            .collect(),
    };
    drain_cleanup(&db).await?;
    let gone = |v: Visit| v.erases_account();
    let after_visits = stores
        .check(
            "after the visits",
            Tally::expected(&outcomes, |v| !gone(v), |v| !gone(v)),
        )
        .await?;

    // Past the retention: the purge erases what is still in the trash.
    wait_for(
        "the trash retention has passed",
        PATIENCE,
        Duration::from_millis(100),
        || async {
            Ok(select_i64(&db, "SELECT count(*) FROM courses WHERE purge_at > now()").await? == 0)
        },
    )
    .await?;
    let purge = admin_call(&http, &base, "purge/run", false).await?;
    drain_cleanup(&db).await?;
    let gone = |v: Visit| v.erases_account() || v.purged();
    let after_purge = stores
        .check(
            "after the purge",
            Tally::expected(&outcomes, |v| !gone(v), |v| !gone(v)),
        )
        .await?;
    let checked_at = started.elapsed();
    anyhow::ensure!(
        checked_at < ttl,
        "the purge's draft keys were counted {checked_at:?} after the first visit, past the TTL: raise TTL"
    );

    // Past the TTL: Redis has expired every draft; the janitor deletes the
    // unused draft courses.
    wait_for(
        "Redis has expired every draft",
        ttl + PATIENCE,
        Duration::from_millis(200),
        || async { Ok(sessions(&stores.keys().await?) == 0) },
    )
    .await?;
    let janitor = admin_call(&http, &base, "janitor/run", false).await?;
    drain_cleanup(&db).await?;
    let at_end = stores
        .check(
            "at the end",
            Tally::expected(&outcomes, Visit::kept, |_| false),
        )
        .await?;
    let left: HashSet<Uuid> = course_ids(&db).await?.into_iter().collect();
    let kept: HashSet<Uuid> = outcomes
        .iter()
        .filter(|o| o.visit.kept())
        .filter_map(|o| o.course)
        .collect();
    anyhow::ensure!(left == kept, "the courses left are not the kept ones");
    let seen = check_kept(&http, &base, &outcomes).await?;
    anyhow::ensure!(
        seen.listed == kept.len() && seen.identical as i64 == at_end.file_rows,
        "not every kept course is listed with its file intact: {seen:?}"
    );
    let dead = select_i64(
        &db,
        "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'dead'",
    )
    .await?;
    drain_outbox(&db).await?;
    service.stop().await;
    let received = receiver.stop().await;
    let announced = check_events(
        outcomes
            .iter()
            .filter_map(|o| Some((o.course?.to_string(), o.visit))),
        &received.accepted,
    )
    .map_err(|e| anyhow::anyhow!("the receiver was not told what the visits did: {e}"))?;
    let erased = outcomes
        .iter()
        .filter(|o| o.visit.makes_course() && !o.visit.kept())
        .count();
    anyhow::ensure!(
        announced.deleted == erased,
        "{erased} courses erased, {} announced deleted",
        announced.deleted
    );

    let count = |f: &dyn Fn(Visit) -> bool| outcomes.iter().filter(|o| f(o.visit)).count();
    let restored = count(&|v| v.restores() && v.kept());
    let restored_files = count(&|v| v.restores() && v.kept() && v.uploads());
    let never_submitted = visits - count(&|v| v.makes_course() && !v.unused());
    let mut doc = String::from("## 6. The hygiene simulation\n\n");
    writeln!(
        doc,
        "{visits} visits of the form, each a new user's: {MIX}. The service runs with a {} s trash \
         retention and a {} s draft TTL. The visits took {:.1} s ({} erases, each waited for until \
         done). Once the retention has passed, the purge runs (it erased {} courses and {} files); \
         once Redis has expired every draft, the janitor runs (it deleted {} courses); after each, \
         the cleanup worker empties its queue ({dead} jobs dead). Draft keys are those of the \
         visits' users; the count after the purge was taken {:.1} s after the first visit, within \
         the TTL, so the keys of the purged courses were removed by the cleanup, not by Redis.\n\n\
         | | course rows | never submitted | in the trash | file rows | files stored | Redis draft keys |\n\
         |---|---|---|---|---|---|---|\n\
         | old design: a row per visit | {visits} | {} ({:.0}%) | | | | |\n{}\n{}\n{}\n",
        RETENTION.as_secs(),
        ttl.as_secs(),
        visits_took.as_secs_f64(),
        count(&|v| v.erases_account()),
        purge["processed"],
        purge["files"],
        janitor["deleted"],
        checked_at.as_secs_f64(),
        never_submitted,
        never_submitted as f64 / visits as f64 * 100.0,
        after_visits.row("draftd, after the visits"),
        after_purge.row("draftd, after the purge"),
        at_end.row("draftd, after the janitor and cleanup"),
    )?;
    writeln!(
        doc,
        "Every figure is the one the visits predict (the run checks each, and that no key of an \
         erased user is left at any point). What is left is exactly the {} kept courses \
         (submitted, or deleted and restored, by users not erased) and their {} files: {} of the \
         courses are listed to their owners, {} of the files download byte-identical; of the \
         {restored} restored courses, {} are listed, and {} of their {restored_files} files \
         download byte-identical.\n",
        kept.len(),
        at_end.file_rows,
        seen.listed,
        seen.identical,
        seen.restored_listed,
        seen.restored_identical,
    )?;
    writeln!(
        doc,
        "**Events.** The service posts its lifecycle events to a receiver of the run's own, which \
         refuses the first attempt of every seventh event (500). It accepted {} events, one per \
         `webhook-id`, in {} deliveries ({} attempts, {} refused and delivered again under the \
         same `webhook-id`). Each course's events arrived in the order its visit made them \
         (created, file uploaded, submitted, trashed, restored), none of another course, and each \
         of the {erased} erased courses (by the janitor, the purge or an account's erase) was \
         announced `course.deleted` exactly once; the outbox ended empty of pending and dead \
         events.\n",
        announced.events, announced.deliveries, received.attempts, received.refused,
    )?;
    writeln!(
        doc,
        "**Crash residue.** After the visits, {CUT_UPLOADS} uploads were cut off by a SIGKILL of \
         the service, {} MiB each sent; the restarted service's orphan sweep found, in a dry run, \
         {} staging files ({:.1} MiB) that no listing shows, removed {} of them, and a dry run \
         after it found {}; {} staging files were left on disk. The visits' counts above were \
         taken after that.\n",
        crash::SENT >> 20,
        residue.found.0,
        residue.found.1 as f64 / f64::from(1u32 << 20),
        residue.removed,
        residue.found_after,
        residue.staging_left,
    )?;
    Ok(doc)
}

/// Runs an admin job (`purge/run`, `janitor/run`, `orphans/sweep`) now, or
/// its dry run; its report.
async fn admin_call(
    http: &Client,
    base: &str,
    route: &str,
    dry_run: bool,
) -> anyhow::Result<Value> {
    Ok(http
        .post(format!("{base}/api/v1/admin/{route}?dryRun={dry_run}"))
        .bearer_auth(service_token())
        .timeout(PATIENCE)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Waits until every event is delivered; fails at once if one is dead.
async fn drain_outbox(db: &tokio_postgres::Client) -> anyhow::Result<()> {
    let left = "SELECT count(*) FILTER (WHERE status = 'pending'),
                       count(*) FILTER (WHERE status = 'dead') FROM jobs WHERE task = 'webhook.delivery'";
    wait_for(
        "every event is delivered",
        PATIENCE,
        Duration::from_millis(100),
        || async {
            let row = db.query_one(left, &[]).await?;
            let (pending, dead): (i64, i64) = (row.get(0), row.get(1));
            anyhow::ensure!(dead == 0, "{dead} events are dead");
            Ok(pending == 0)
        },
    )
    .await
}

async fn drain_cleanup(db: &tokio_postgres::Client) -> anyhow::Result<()> {
    let pending = "SELECT count(*) FROM jobs WHERE task LIKE 'cleanup.%' AND status = 'pending'";
    wait_for(
        "the cleanup queue is empty",
        PATIENCE,
        Duration::from_millis(100),
        || async { Ok(select_i64(db, pending).await? == 0) },
    )
    .await
}
