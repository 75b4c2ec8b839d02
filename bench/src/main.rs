//! draftd's benchmarks, all in one run on this machine, each comparison
//! alternating its sides so that noise falls on both. Writes
//! docs/benchmarks.md and its plots under docs/bench/.

mod connections;
mod hook_server;
mod identity_provider;
mod load;
mod plot;
mod receiver;
mod scenarios;
mod service;
mod unfinished_upload;
mod visits;

use std::fmt::Write as _;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let mut doc = String::new();
    writeln!(
        doc,
        "# Benchmarks\n\nWritten by `make bench` on {} ({} cores). Release build; Redis, Postgres, \
         the service and the load generator share this machine, so every comparison below was \
         measured in the same run, its sides alternating, and is given as a ratio.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )?;
    std::fs::create_dir_all("docs/bench")?;
    service::flush_redis().await?;

    // BENCH_ONLY=autosave,calls,... runs some (for profiling) and prints their
    // sections; the document is written only by a full run.
    let only = std::env::var("BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|n| n == name))
    };
    for (name, title) in [
        ("throughput", "autosave throughput, closed loop"),
        ("autosave", "autosave under load"),
        ("calls", "call latencies"),
        ("memory", "Redis memory per draft"),
        ("janitor", "janitor at scale"),
        ("hygiene", "hygiene simulation"),
        ("degraded", "degraded mode"),
        ("purge", "purge at scale"),
        ("rediscost", "the autosave's time inside Redis"),
        (
            "capacity",
            "capacity: the CPU of each operation, a model, checked",
        ),
        ("tail", "the autosave's tail at low load"),
    ] {
        if !wanted(name) {
            continue;
        }
        eprintln!("bench: {title}");
        doc.push_str(&match name {
            "throughput" => scenarios::autosave_throughput(quick).await?,
            "autosave" => on_one_thread(move || scenarios::autosave_load(quick)).await?,
            "calls" => scenarios::call_latencies(quick).await?,
            "memory" => scenarios::memory_per_draft().await?,
            "janitor" => on_one_thread(move || scenarios::janitor_at_scale(quick)).await?,
            "hygiene" => scenarios::hygiene(quick).await?,
            "purge" => scenarios::purge_at_scale(quick).await?,
            "rediscost" => scenarios::redis_cost(quick).await?,
            "capacity" => on_one_thread(move || scenarios::capacity(quick)).await?,
            "tail" => on_one_thread(move || scenarios::low_load_tail(quick)).await?,
            _ => scenarios::degraded_mode(quick).await?,
        });
    }
    // Drafts live for a day: leave none behind.
    service::flush_redis().await?;
    if only.is_none() {
        std::fs::write("docs/benchmarks.md", doc)?;
        eprintln!("bench: wrote docs/benchmarks.md");
    } else {
        print!("{doc}");
    }
    Ok(())
}

/// Runs the scenario that `start` makes on a runtime of its own with one
/// thread. An open loop's generator spends its CPU on the same two cores as
/// the service and Redis: on one thread, a request's answer wakes the task
/// that waits for it there, with no hand-over to another worker thread.
async fn on_one_thread<F, Fut>(start: F) -> anyhow::Result<String>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(start())
    })
    .await?
}
