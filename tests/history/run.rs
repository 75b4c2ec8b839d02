//! One run of a plan: fresh stores and replicas, the actors until the plan
//! or the time runs out, the jobs to quiescence, then the oracle.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::actors::Actor;
use crate::client::{Api, Ctx};
use crate::facts::Facts;
use crate::history::{Call, Recorder};
use crate::oracle::{Complaint, Kind, Oracle};
use crate::people::People;
use crate::plan::{Plan, ACTORS, ADMIN_ACTOR, FAULT_ACTOR};
use crate::receiver::{new_secret, Answer, Receiver};
use crate::replicas::{Replicas, Settings};
use crate::servers::{Database, Redis, ScratchDir};
use crate::snapshot::{distinct_events, Snapshot};
use crate::soak::{Sample, Sampler};
use crate::storage::Storage;

pub struct Outcome {
    pub calls: Vec<Call>,
    pub complaints: Vec<Complaint>,
    /// The plan's steps that ran (a run stops at its deadline).
    pub executed: Vec<usize>,
    pub samples: Vec<Sample>,
    pub checked: std::collections::BTreeMap<&'static str, usize>,
    /// Where the replicas' logs are, kept when the run failed.
    pub logs: Option<String>,
}

pub async fn run(plan: &Plan, deadline: Option<Duration>, sample: bool) -> Outcome {
    let mut scratch = ScratchDir::new("history");
    let files_dir = scratch.path.join("files");
    let log_dir = scratch.path.join("logs");
    std::fs::create_dir_all(&log_dir).expect("log dir");
    let redis = Arc::new(Mutex::new(Redis::start(&scratch.path.join("redis")).await));
    let database = Database::create().await;
    let storage = Arc::new(Storage::start(plan.storage, &files_dir, database.client().await).await);
    let receiver = Receiver::start(Answer::Status(204)).await;
    let settings = Settings {
        database_url: database.url.clone(),
        redis_url: redis.lock().await.url(),
        storage: storage.env(),
        webhook_url: receiver.url.clone(),
        webhook_secret: new_secret().0,
        log_dir: log_dir.clone(),
    };
    let replicas = Replicas::start(settings, 2).await;
    let recorder = Recorder::new();
    let api = Api::new(replicas.clone(), recorder.clone());
    let people = People::new();
    let db = database.client().await;
    let sampler = sample.then(|| Sampler::start(replicas.clone(), database.url.clone()));

    let mut tasks = Vec::new();
    for actor in 0..ACTORS {
        let steps: Vec<(usize, crate::plan::Step)> = plan
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.actor == actor)
            .map(|(i, s)| (i, s.clone()))
            .collect();
        let (api, people, redis) = (api.clone(), people.clone(), redis.clone());
        let me = Actor {
            api: api.clone(),
            people: people.clone(),
            actor,
            seed: plan.seed,
            storage: storage.clone(),
        };
        let faults = plan.faults;
        tasks.push(tokio::spawn(async move {
            let mut executed = Vec::new();
            for (index, step) in steps {
                tokio::time::sleep(Duration::from_millis(step.pause_ms)).await;
                if deadline.is_some_and(|d| api.recorder.now() > d) {
                    break;
                }
                executed.push(index);
                let ctx = Ctx { actor, step: index };
                match actor {
                    ADMIN_ACTOR => crate::admin::run(&api, &people, ctx, &step.op).await,
                    FAULT_ACTOR if faults => {
                        crate::faults::inject(&api, &redis, ctx, &step.op).await
                    }
                    FAULT_ACTOR => {}
                    _ => me.run(index, &step.op).await,
                }
            }
            executed
        }));
    }
    let mut executed = Vec::new();
    for task in tasks {
        executed.extend(task.await.expect("an actor panicked"));
    }
    executed.sort_unstable();
    let samples = match sampler {
        Some(s) => s.stop().await,
        None => Vec::new(),
    };

    let unsettled = crate::settle::settle(&api, &db).await;
    let calls = recorder.calls();
    let facts = Facts::derive(&calls);
    let events = distinct_events(&receiver.deliveries());
    let snapshot = Snapshot::take(&db, &*redis.lock().await, &storage, events).await;
    let mut oracle = Oracle {
        facts: &facts,
        snapshot: &snapshot,
        root: &storage.objects,
        complaints: unsettled
            .into_iter()
            .map(|text| Complaint {
                kind: Kind::Leftover,
                text: format!("did not settle: {text}"),
            })
            .collect(),
        checked: Default::default(),
    };
    oracle.check_calls(&calls);
    oracle.check_doomed();
    oracle.check_erased_subjects();
    oracle.check_live_courses();
    oracle.check_unrecorded_parts();
    oracle.check_quota_accounting();
    let tokens: HashMap<_, _> = people
        .current()
        .into_iter()
        .map(|i| (i.user, i.token))
        .collect();
    oracle.check_live_drafts(&api, &tokens).await;
    let (complaints, checked) = (oracle.complaints, oracle.checked);

    replicas.stop_all().await;
    redis.lock().await.stop();
    drop(db);
    database.drop_now().await;
    let logs = (!complaints.is_empty()).then(|| {
        // The whole history and every complaint, beside the replicas' logs.
        let all: Vec<String> = complaints.iter().map(|c| c.to_string()).collect();
        let _ = std::fs::write(log_dir.join("complaints.txt"), all.join("\n"));
        let _ = std::fs::write(
            log_dir.join("history.txt"),
            crate::report::history_excerpt(&calls, usize::MAX),
        );
        let _ = std::fs::remove_dir_all(&files_dir);
        scratch.keep();
        log_dir.display().to_string()
    });
    Outcome {
        calls,
        complaints,
        executed,
        samples,
        checked,
        logs,
    }
}
