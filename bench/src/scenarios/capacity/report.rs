//! Section 10 of docs/benchmarks.md: the model's terms, each window beside
//! its prediction, and a save's cost at each check.

use std::fmt::Write as _;

use super::model::{fit, Cores, Load, Model, Role};
use super::{
    Run, BUSY_INTERVAL, CALIBRATION_RATES, CHECK_TYPISTS, FIT_TYPISTS, ROUNDS, SAVES_PER_MINUTE,
    UPLOAD_BYTES,
};
use crate::scenarios::CONNECTIONS;

pub(super) fn report(run: &Run) -> anyhow::Result<String> {
    let model = fit(&run.windows);
    let mut doc = String::from(
        "## 10. Capacity: the CPU of each operation, a model with its context switches, checked\n\n",
    );
    writeln!(
        doc,
        "What sizes a deployment ([capacity.md](capacity.md)): the CPU that each operation costs the \
         service and Redis, read from each thread's `schedstat` in /proc (the scheduler's count in \
         nanoseconds, where `/proc/<pid>/stat` counts 10 ms ticks) over windows of {} s, with the context \
         switches of every thread of each process. Each window is measured in {ROUNDS} turns of {} s: \
         every window takes its turn in order, then the next round begins, so that whatever else the \
         machine does meanwhile falls on the calibration, the fits and the checks alike. Typists save at \
         the page's cadence, {SAVES_PER_MINUTE} autosaves a typist-minute (measured by \
         `e2e/tests/cadence.test.js`), open loop over {CONNECTIONS} keep-alive connections, their drafts \
         a typical form. The event streams of all {} typists are open throughout, each on a connection of \
         its own as the page holds it (each save comes back to its stream as a `saved` event: a save here \
         is the save and its event), so the idle window is the streams open and nothing sent; a draft \
         list is the page's (`GET /api/v1/drafts?include=formData&limit=100`); an upload is the first \
         file of a draft (which makes its course), {} KiB by tus, a creation and one PATCH.\n\n\
         The model is CPU = idle + Σ rate × work + (switches/s − idle's) × the cost of a switch, per \
         process. A request that finds a process asleep wakes it, and the wake-up costs more than the \
         request's work when the process is idle; a busy process serves several requests a wake-up. The \
         switch cost is calibrated apart, on calls of constant work (`GET /healthz` into the service, which \
         answers without Redis, and an empty Lua script, `return 1` by `EVALSHA`, into Redis: the HTTP \
         stack and the scripting engine an autosave runs in, whose caches a wake-up finds cold): first as \
         fast as they are answered, where a process is woken for many calls at once, which gives their \
         work (the CPU beyond idle per call, its few switches in); then at {:?} a second, where what a \
         window used beyond idle and the calls' work, per switch beyond idle's, is the cost of a switch at \
         that window's time between switches. Between those times the cost is linear in the time's \
         logarithm, and level beyond them. The work terms are then fitted at one load, {FIT_TYPISTS} typists: \
         each fitting window adds one kind of operation, and its work is what the window measured less \
         what the model explains (with the window's own switches), per operation. The switches a second are \
         an input: each window's measured ones. The other windows check the model: {} and {} typists \
         saving, {} typists with lists and uploads beside them, and a busy process, the {} typists \
         saving every {} ms. The service, Redis, Postgres (not measured: uploads write a course row and a \
         file row) and this generator (one thread) share the machine's two cores ({}).\n",
        run.window.as_secs(),
        run.window.as_secs() / u64::from(ROUNDS),
        CHECK_TYPISTS[1],
        UPLOAD_BYTES >> 10,
        CALIBRATION_RATES,
        CHECK_TYPISTS[0],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        CHECK_TYPISTS[1],
        BUSY_INTERVAL.as_millis(),
        cpu_model(),
    )?;
    doc.push_str("| term | service | Redis |\n|---|---|---|\n");
    let us = |c: Cores| format!("{:.1} µs | {:.1} µs", c[0] * 1e6, c[1] * 1e6);
    let [w0, w1] = &model.wake;
    let switch_cost = |i: usize| {
        let rate = CALIBRATION_RATES[CALIBRATION_RATES.len() - 1 - i];
        (
            format!("a switch, at {rate} calls a second (one every: service, Redis)"),
            format!(
                "{} ({:.2}, {:.2} ms)",
                us([w0.points[i].1, w1.points[i].1]),
                w0.points[i].0 * 1e3,
                w1.points[i].0 * 1e3
            ),
        )
    };
    let head = [
        ("idle CPU, a second".to_owned(), us(model.idle)),
        (
            "idle switches, a second".to_owned(),
            format!(
                "{:.0} | {:.0}",
                model.idle_switches[0], model.idle_switches[1]
            ),
        ),
        (
            "work: a `GET /healthz`, an empty script (as fast as answered)".to_owned(),
            us(model.ping),
        ),
    ];
    let tail = [
        (
            "work: autosave and its `saved` event".to_owned(),
            us(model.save),
        ),
        ("work: draft list".to_owned(), us(model.list)),
        (
            "work: upload (tus creation and one PATCH)".to_owned(),
            us(model.upload),
        ),
        (
            "draft list, all told (its work and its switches)".to_owned(),
            us(model.told[0]),
        ),
        ("upload, all told".to_owned(), us(model.told[1])),
        (
            "event stream open, a second, all told (its heartbeats)".to_owned(),
            us(run.stream_idle),
        ),
        (
            "event stream opened (connect, subscribe, hello), all told".to_owned(),
            us(run.stream_open),
        ),
        (
            "draft created (typical form; 64 at a time, closed loop), all told".to_owned(),
            us(run.create),
        ),
    ];
    let switch_costs = (0..CALIBRATION_RATES.len()).map(switch_cost);
    for (name, value) in head.into_iter().chain(switch_costs).chain(tail) {
        writeln!(doc, "| {name} | {value} |")?;
    }
    writeln!(
        doc,
        "\nMemory: {:.0} bytes of Redis `used_memory` per draft ({} typical drafts, a user each, their \
         index and rate keys included); per open stream {:.0} bytes of Redis (its channel) and {:.1} KiB \
         of the service's resident memory (RSS, as {} streams opened).\n",
        run.redis_bytes_per_draft,
        CHECK_TYPISTS[1],
        run.redis_bytes_per_stream,
        run.service_kib_per_stream,
        CHECK_TYPISTS[1],
    )?;
    windows_table(&mut doc, run, &model)?;
    Ok(doc)
}

/// Each window's load, its CPU beside the model's, and a save's apparent cost.
fn windows_table(doc: &mut String, run: &Run, model: &Model) -> anyhow::Result<()> {
    doc.push_str(
        "| window | role | saves/s | streams | events/s | lists/s | uploads/s | calls/s | switches/s, service, Redis | service CPU measured | predicted | error | Redis CPU measured | predicted | error | generator CPU | µs a save, service, Redis | switches a save, service, Redis |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut costs = Vec::new();
    for (name, role, m) in &run.windows {
        // The calls' work is their CPU per call with their few switches in.
        let predicted = match role {
            Role::CallWork => model.work(&m.load),
            _ => model.predict(&m.load, m.switches),
        };
        let (l, s) = (&m.load, m.switches);
        let error = |k: usize| (predicted[k] - m.cores[k]) / m.cores[k].max(1e-9) * 100.0;
        let label = match role {
            Role::Idle => "idle",
            Role::CallWork => "calls' work",
            Role::Calibration => "switch cost",
            Role::Fit(_) => "fit",
            Role::Check => "**check**",
        };
        // A save's apparent cost: the window's CPU less the work of its
        // other operations, per save (the switches left in); and its
        // switches beyond idle's.
        let per_save = if l.saves > 0.0 {
            let rest = model.work(&Load { saves: 0.0, ..*l });
            let switches = [0, 1].map(|k| (s[k] - model.idle_switches[k]) / l.saves);
            if *role == Role::Check {
                let cost = [0, 1].map(|k| model.save[k] + switches[k] * model.wake[k].cost(s[k]));
                costs.push(format!(
                    "{name} ({:.0} saves/s; {:.1} and {:.1} switches a save): {:.0} and {:.0} µs",
                    l.saves,
                    switches[0],
                    switches[1],
                    cost[0] * 1e6,
                    cost[1] * 1e6
                ));
            }
            format!(
                "{:.0}, {:.0} | {:.1}, {:.1}",
                (m.cores[0] - rest[0]) / l.saves * 1e6,
                (m.cores[1] - rest[1]) / l.saves * 1e6,
                switches[0],
                switches[1]
            )
        } else {
            " | ".into()
        };
        writeln!(
            doc,
            "| {name} | {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0}, {:.0} | {:.1}% | {:.1}% | {:+.0}% | {:.1}% | {:.1}% | {:+.0}% | {:.0}% | {per_save} |",
            l.saves, l.streams, l.events, l.lists, l.uploads, l.pings, s[0], s[1],
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1),
            m.generator * 100.0,
        )?;
        eprintln!(
            "  {name} ({label}): service {:.1}% (model {:.1}%, {:+.0}%), Redis {:.1}% (model {:.1}%, {:+.0}%)",
            m.cores[0] * 100.0, predicted[0] * 100.0, error(0),
            m.cores[1] * 100.0, predicted[1] * 100.0, error(1)
        );
    }
    doc.push_str(
        "\nCPU in % of one core; error = (predicted − measured) ÷ measured; the model predicts each \
         window from its load and its measured switches. A fitting or calibrating window matches the model \
         by construction (the calls' work is their CPU with their switches in). A save's µs: the window's CPU less idle and the work of its other operations, \
         per save, its switches' cost left in; its switches: those of every thread of the process beyond \
         the idle rate, per save.\n",
    );
    writeln!(
        doc,
        "\nFor sizing, the model's cost of a save with its event (service, Redis), at each check's \
         switches: {}.\n",
        costs.join("; ")
    )?;
    Ok(())
}

/// The processor's name, from /proc/cpuinfo.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or_else(
            || "an unnamed processor".into(),
            |name| name.trim_start_matches([' ', '\t', ':']).to_owned(),
        )
}
