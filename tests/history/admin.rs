//! The admin's operations: job runs, dry and real erases. An erase counts
//! as acknowledged once its job reports it finished, as the SPEC says.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::client::{Api, Ctx, Reply};
use crate::history::{Answer, Effect};
use crate::people::People;
use crate::plan::Op;

/// Whom an erase takes.
#[derive(Clone, Copy, Debug)]
pub enum Subject {
    User(Uuid),
    Org(Uuid),
}

/// Starts an erase and waits until its job reports it finished; the call
/// recorded spans both, and is acknowledged only if it finished.
pub async fn erase(api: &Api, ctx: Ctx, subject: Subject, dry_run: bool) -> Reply {
    let (body, user, org) = match subject {
        Subject::User(u) => (json!({"userId": u}), Some(u), None),
        Subject::Org(o) => (json!({"organizationId": o}), None, Some(o)),
    };
    let path = format!(
        "/api/v1/admin/erase{}",
        if dry_run { "?dryRun=true" } else { "" }
    );
    let label = format!("POST {path} {body}");
    let started = api.recorder.now();
    let mut reply = api.send(api.admin(Method::POST, &path).json(&body)).await;
    if !dry_run && reply.status() == Some(202) {
        reply = wait_finished(api, &reply).await;
    }
    let effect = Effect::Erase { user, org, dry_run };
    api.record(ctx, effect, label, started, &reply);
    reply
}

/// Polls the erase's state until it is `done` or `failed` (a 200 with that
/// state), or gives up (undecided).
async fn wait_finished(api: &Api, accepted: &Reply) -> Reply {
    let Some(id) = accepted.uuid("id") else {
        return Reply {
            answer: Answer::Undecided("202 without an id".into()),
            ..empty()
        };
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        let state = api
            .send(api.admin(Method::GET, &format!("/api/v1/admin/erase/{id}")))
            .await;
        match state.body["status"].as_str() {
            Some("done") => return state,
            Some("failed") => {
                return Reply {
                    answer: Answer::Status(299),
                    ..state
                };
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Reply {
        answer: Answer::Undecided("erase still running".into()),
        ..empty()
    }
}

fn empty() -> Reply {
    Reply {
        answer: Answer::Undecided(String::new()),
        headers: Default::default(),
        body: serde_json::Value::Null,
    }
}

pub async fn run(api: &Api, people: &People, ctx: Ctx, op: &Op) {
    let job = |method: Method, path: &'static str| async move {
        let request = api.admin(method.clone(), path);
        api.call(ctx, Effect::Admin, format!("{method} {path}"), request)
            .await
    };
    match *op {
        Op::PurgeRun => {
            job(Method::POST, "/api/v1/admin/purge/run").await;
        }
        Op::JanitorRun => {
            job(Method::POST, "/api/v1/admin/janitor/run").await;
        }
        Op::Stats => {
            job(Method::GET, "/api/v1/admin/stats").await;
        }
        Op::EraseDry { org, user } => {
            let subject = match user {
                Some(slot) => Subject::User(people.slot(slot).ident.user),
                None => Subject::Org(people.org(org)),
            };
            erase(api, ctx, subject, true).await;
        }
        Op::EraseOrg { org } => {
            let id = people.org(org);
            if erase(api, ctx, Subject::Org(id), false).await.answer.ok() {
                people.retire_org(id);
            }
        }
        _ => {}
    }
}
