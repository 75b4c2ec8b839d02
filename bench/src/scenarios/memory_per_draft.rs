//! Benchmark 4: what one draft costs in Redis.

use std::fmt::Write as _;

use deadpool_redis::redis;
use draftd::stores::redis::keys::{draft_key, index_key};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{client, typical_form};
use crate::service::{fresh_database, new_user, Service, REDIS_URL};

/// Benchmark 4: What one draft costs in Redis.
pub async fn memory_per_draft() -> anyhow::Result<String> {
    let db = fresh_database("draftd_bench_memory").await?;
    let service = Service::start(&db, &[]).await?;
    let http = client();
    let redis = deadpool_redis::Config::from_url(REDIS_URL.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
    let mut conn = redis.get().await?;
    let forms = [
        ("empty", json!({})),
        ("typical", typical_form()),
        (
            "full (every field at its limit)",
            json!({"topic": "t".repeat(200), "description": "d".repeat(5000), "email": "author@example.com",
                   "writingStyle": "w".repeat(100), "contentStrategy": "c".repeat(100), "language": "pt-BR",
                   "targetAudience": "a".repeat(1000), "estimatedLessons": 100, "estimatedSections": 30,
                   "lessonDuration": 180, "learningOutcomes": "o".repeat(5000),
                   "formats": (0..10).map(|i| format!("{i}").repeat(50)).collect::<Vec<_>>()}),
        ),
    ];
    let mut doc = String::from("## 4. Redis memory per draft\n\n`MEMORY USAGE` of a draft's key (one string, its record), and of its entry in the owner's index (a sorted set, measured with 50 drafts in it).\n\n| form | form JSON bytes | draft key bytes |\n|---|---|---|\n");
    for (name, form) in forms {
        let (user, token) = new_user(Uuid::new_v4());
        let draft: Value = http
            .post(format!("{}/api/v1/drafts", service.base))
            .bearer_auth(&token)
            .json(&json!({ "formData": form }))
            .send()
            .await?
            .json()
            .await?;
        let key = draft_key(
            user.into(),
            draft["id"].as_str().unwrap_or_default().parse()?,
        );
        let bytes: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await?;
        writeln!(doc, "| {name} | {} | {bytes} |", form.to_string().len())?;
    }
    let (user, token) = new_user(Uuid::new_v4());
    for _ in 0..50 {
        http.post(format!("{}/api/v1/drafts", service.base))
            .bearer_auth(&token)
            .send()
            .await?;
    }
    let index: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(index_key(user.into()))
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut conn)
        .await?;
    writeln!(
        doc,
        "\nIndex entry: {:.0} bytes per draft ({index} bytes for 50).\n",
        index as f64 / 50.0
    )?;
    service.stop().await;
    Ok(doc)
}
