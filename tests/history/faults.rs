//! Injected faults: a replica SIGKILLed and started again, Redis shut down
//! and started again on the same data. Each is recorded with the window in
//! which a 5xx or an unanswered request is the fault's, not a bug.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::client::{Api, Ctx, Reply};
use crate::history::{Answer, Effect};
use crate::plan::Op;
use crate::servers::Redis;

/// After a fault ends, requests that started during it may still fail for
/// this long (pools reconnect, a breaker half-opens).
pub const SETTLE: Duration = Duration::from_secs(3);

pub async fn inject(api: &Api, redis: &Arc<Mutex<Redis>>, ctx: Ctx, op: &Op) {
    let started = api.recorder.now();
    let what = match *op {
        Op::KillReplica { replica, down_ms } => {
            api.replicas.kill(replica).await;
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
            api.replicas.restart(replica).await;
            format!("SIGKILL replica {replica}, {down_ms} ms down")
        }
        Op::RestartRedis { down_ms } => {
            redis
                .lock()
                .await
                .restart(Duration::from_millis(down_ms))
                .await;
            format!("Redis shut down and started again, {down_ms} ms down")
        }
        _ => return,
    };
    let reply = Reply {
        answer: Answer::Status(200),
        headers: Default::default(),
        body: serde_json::Value::Null,
    };
    api.record(ctx, Effect::Fault, what, started, &reply);
}
