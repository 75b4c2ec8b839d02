//! Benchmark 8: the trash purge on a large trash, beside the janitor on as
//! many unused drafts.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use draftd::jobs::purge::PARALLEL_ERASES;
use draftd::stores::postgres::cleanup::DELETE_COURSES;
use draftd::stores::postgres::trash::PURGE_CANDIDATES;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{client, course_ids, select_i64};
use crate::service::{connect, fresh_database, service_token, Service};

/// One in this many courses holds a file row.
const WITH_FILE: i64 = 10;

/// The two ways courses are erased in bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eraser {
    /// Unused drafts past the TTL, whose draft sessions Redis no longer has:
    /// batches of 500, each one transaction.
    Janitor,
    /// Trashed courses past their retention: batches of 100, each course
    /// one transaction, several at once.
    Purge,
}

impl Eraser {
    fn route(self) -> &'static str {
        match self {
            Eraser::Janitor => "janitor",
            Eraser::Purge => "purge",
        }
    }

    /// The columns that make a row this eraser's: (status, updated_at,
    /// trashed_at, purge_at), each an SQL expression of the row number `i`.
    fn columns(self) -> &'static str {
        match self {
            Eraser::Janitor => {
                "'draft', now() - interval '3 days' - make_interval(secs => i::int), NULL, NULL"
            }
            Eraser::Purge => {
                "'submitted', now() - interval '40 days', now() - interval '31 days',
                 now() - interval '1 day' - make_interval(secs => i::int)"
            }
        }
    }

    /// What the report counts as erased.
    fn erased(self, report: &Value) -> i64 {
        let field = match self {
            Eraser::Janitor => "deleted",
            Eraser::Purge => "processed",
        };
        report[field].as_i64().unwrap_or_default()
    }
}

/// Fills `courses` with `count` rows for `eraser`, one in [`WITH_FILE`]
/// with a file row; every row has a draft session that Redis no longer has.
async fn fill(db: &tokio_postgres::Client, eraser: Eraser, count: i64) -> anyhow::Result<()> {
    db.batch_execute("TRUNCATE courses CASCADE; TRUNCATE cleanup_jobs; TRUNCATE jobs CASCADE")
        .await?;
    db.execute(
        &format!(
            "INSERT INTO courses (id, draft_session_id, owner_id, organization_id, slug, title,
                                  status, updated_at, trashed_at, purge_at, created_at)
             SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
                    '00000000-0000-4000-8000-0000000000a1', 'course-' || i, 'Course ' || i,
                    {}, now() - interval '40 days'
             FROM generate_series(0, $1::bigint - 1) AS i",
            eraser.columns()
        ),
        &[&count],
    )
    .await?;
    db.execute(
        "INSERT INTO course_files (id, course_id, storage_key, original_name, content_type,
                                   size_bytes, sha256)
         SELECT gen_random_uuid(), id, organization_id || '/' || id || '/' || gen_random_uuid(),
                'notes.txt', 'text/plain', 1000, repeat('0', 64)
         FROM courses WHERE substr(slug, 8)::bigint % $1 = 0",
        &[&WITH_FILE],
    )
    .await?;
    db.batch_execute("VACUUM ANALYZE courses, course_files")
        .await?;
    Ok(())
}

/// One timed run: (seconds, courses erased).
async fn run(
    service: &Service,
    db: &tokio_postgres::Client,
    eraser: Eraser,
    count: i64,
) -> anyhow::Result<(f64, i64)> {
    fill(db, eraser, count).await?;
    let started = Instant::now();
    let report: Value = client()
        .post(format!(
            "{}/api/v1/admin/{}/run",
            service.base,
            eraser.route()
        ))
        .bearer_auth(service_token())
        .timeout(Duration::from_secs(1800))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let took = started.elapsed().as_secs_f64();
    let erased = eraser.erased(&report);
    let left = select_i64(db, "SELECT count(*) FROM courses").await?;
    anyhow::ensure!(
        erased == count && left == 0,
        "the {} erased {erased} of {count} courses, {left} left: {report}",
        eraser.route()
    );
    eprintln!(
        "  {}: {count} in {took:.2} s ({:.0}/s)",
        eraser.route(),
        count as f64 / took
    );
    Ok((took, erased))
}

/// Courses the profile erases one at a time, each way.
const PROFILED: usize = 2000;

/// Where one course's erase spends its time, in ms on average, one course
/// at a time on one connection.
#[derive(Debug, Default)]
struct Profile {
    /// Each step apart, the statement prepared each time.
    begin: f64,
    prepare: f64,
    delete: f64,
    commit: f64,
    /// The statement alone, prepared once, outside BEGIN: its own
    /// transaction, committed when it answers.
    one_statement: f64,
}

/// The parameters the purge binds to [`DELETE_COURSES`] for one course.
fn purge_params<'a>(ids: &'a &'a [Uuid]) -> [&'a (dyn ToSql + Sync); 7] {
    const NOBODY: Option<Uuid> = None;
    [ids, &NOBODY, &"purge", &NOBODY, &"expired", &false, &false]
}

async fn profile(db: &mut tokio_postgres::Client) -> anyhow::Result<Profile> {
    fill(db, Eraser::Purge, 2 * PROFILED as i64).await?;
    let ids = course_ids(db).await?;
    let (stepwise, at_once) = ids.split_at(PROFILED.min(ids.len()));
    let mut total = Profile::default();
    let ms = |since: Instant| since.elapsed().as_secs_f64() * 1000.0;
    for id in stepwise {
        let started = Instant::now();
        let tx = db.transaction().await?;
        total.begin += ms(started);
        let started = Instant::now();
        let statement = tx.prepare(DELETE_COURSES.as_str()).await?;
        total.prepare += ms(started);
        let started = Instant::now();
        tx.query_one(&statement, &purge_params(&&[*id][..])).await?;
        total.delete += ms(started);
        let started = Instant::now();
        tx.commit().await?;
        total.commit += ms(started);
    }
    let statement = db.prepare(DELETE_COURSES.as_str()).await?;
    for id in at_once {
        let started = Instant::now();
        db.query_one(&statement, &purge_params(&&[*id][..])).await?;
        total.one_statement += ms(started);
    }
    let n = PROFILED as f64;
    Ok(Profile {
        begin: total.begin / n,
        prepare: total.prepare / n,
        delete: total.delete / n,
        commit: total.commit / n,
        one_statement: total.one_statement / n,
    })
}

/// `EXPLAIN ANALYZE` of the purge's candidate query (first batch) and of
/// the deletion of its first course, rolled back; on a full trash.
async fn plans(db: &mut tokio_postgres::Client, count: i64) -> anyhow::Result<String> {
    fill(db, Eraser::Purge, count).await?;
    let explain = |rows: Vec<tokio_postgres::Row>| {
        rows.iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let tx = db.transaction().await?;
    let first_batch: [&(dyn ToSql + Sync); 3] =
        [&std::time::SystemTime::UNIX_EPOCH, &Uuid::nil(), &100i64];
    let candidates = explain(
        tx.query(
            &format!("EXPLAIN (ANALYZE, COSTS OFF) {PURGE_CANDIDATES}"),
            &first_batch,
        )
        .await?,
    );
    let first: Uuid = tx
        .query_one(
            &format!("SELECT id FROM ({PURGE_CANDIDATES}) AS c LIMIT 1"),
            &first_batch,
        )
        .await?
        .get(0);
    let delete = explain(
        tx.query(
            &format!("EXPLAIN (ANALYZE, COSTS OFF) {}", *DELETE_COURSES),
            &purge_params(&&[first][..]),
        )
        .await?,
    );
    tx.rollback().await?;
    Ok(format!(
        "The candidate query of the first batch:\n\n```\n{candidates}\n```\n\n\
         The deletion of one course (rolled back):\n\n```\n{delete}\n```\n"
    ))
}

/// Benchmark 8: The trash purge's throughput on a large trash, beside the
/// janitor's on as many unused drafts, in the same run, alternating.
pub async fn purge_at_scale(quick: bool) -> anyhow::Result<String> {
    let count: i64 = if quick { 10_000 } else { 100_000 };
    let rounds = 2;
    let url = fresh_database("draftd_bench_purge").await?;
    // The cleanup worker wakes when a run ends, not during it: what is
    // timed is the erase of the rows, the same for both.
    let service = Service::start(&url, &[("DRAFTD_CLEANUP_POLL_MS", "3600000")]).await?;
    let mut db = connect(&url).await?;

    let mut times = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Eraser::Janitor, Eraser::Purge]
        } else {
            [Eraser::Purge, Eraser::Janitor]
        };
        for eraser in order {
            let (took, _) = run(&service, &db, eraser, count).await?;
            times[usize::from(eraser == Eraser::Purge)].push(took);
        }
    }
    let plans = plans(&mut db, count).await?;
    let profile = profile(&mut db).await?;
    service.stop().await;

    let rate = |times: &[f64]| count as f64 * times.len() as f64 / times.iter().sum::<f64>();
    let (janitor, purge) = (rate(&times[0]), rate(&times[1]));
    let mut doc = String::from("## 8. The trash purge at scale\n\n");
    writeln!(
        doc,
        "{count} trashed courses past their retention, one in {WITH_FILE} with a file row, erased \
         by the purge (batches of 100, each course its own transaction, {PARALLEL_ERASES} at once), beside the \
         janitor on {count} stale unused drafts of the same shape (batches of 500, one transaction \
         each, their draft sessions checked in Redis), each on a table holding nothing else, \
         {rounds} rounds alternating. Each run is timed from the admin route's call to its report; \
         the cleanup worker wakes only after a run, so neither includes removing files and keys.\n\n\
         | eraser | runs s | courses/s |\n|---|---|---|\n\
         | janitor | {} | {janitor:.0} |\n\
         | purge | {} | {purge:.0} |\n\n\
         The purge erases {:.1}x slower than the janitor ({:.2} of its rate).\n",
        seconds(&times[0]),
        seconds(&times[1]),
        janitor / purge,
        purge / janitor,
    )?;
    let steps = profile.begin + profile.prepare + profile.delete + profile.commit;
    writeln!(
        doc,
        "Where one course's erase spends its time: {PROFILED} courses erased each way, one at a \
         time on one connection, timed by the client, in ms on average. The COMMIT waits for the \
         WAL's flush to disk, once per course (the janitor's once per 500); the purge runs \
         {PARALLEL_ERASES} at once, and commits that wait together share a flush.\n\n\
         | how | BEGIN | prepare (parse, plan) | the deletion | COMMIT | in all | courses/s |\n\
         |---|---|---|---|---|---|---|\n\
         | each step apart | {:.3} | {:.3} | {:.3} | {:.3} | {steps:.3} | {:.0} |\n\
         | the statement alone, prepared once, outside BEGIN (as the purge sends it) | | | | | {:.3} | {:.0} |\n",
        profile.begin,
        profile.prepare,
        profile.delete,
        profile.commit,
        1000.0 / steps,
        profile.one_statement,
        1000.0 / profile.one_statement,
    )?;
    doc.push_str(&plans);
    Ok(doc)
}

fn seconds(times: &[f64]) -> String {
    times
        .iter()
        .map(|t| format!("{t:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
