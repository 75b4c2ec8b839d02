//! The hygiene simulation's visits over HTTP: one visit of the form, an
//! account's erase, and the check of what a user kept.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use reqwest::Client;
use serde_json::{json, Value};
use uuid::Uuid;

use super::PATIENCE;
use crate::scenarios::upload_file;
use crate::service::{new_user, service_token};
use crate::visits::Visit;

/// What one visit did: its user, and the course and file it made.
pub struct Outcome {
    pub visit: Visit,
    pub user: Uuid,
    pub token: String,
    pub draft: Uuid,
    pub course: Option<Uuid>,
    /// The uploaded file's id and content.
    pub file: Option<(String, Vec<u8>)>,
}

/// One visit of the form, as [`Visit::of`] says.
pub async fn visit(http: &Client, base: &str, org: Uuid, i: usize) -> anyhow::Result<Outcome> {
    let visit = Visit::of(i);
    let (user, token) = new_user(org);
    let draft: Value = http
        .post(format!("{base}/api/v1/drafts"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let draft: Uuid = draft["id"].as_str().unwrap_or_default().parse()?;
    let url = format!("{base}/api/v1/drafts/{draft}");
    let (mut course, mut file) = (None, None);
    if visit.uploads() {
        let content = format!("Outline of course {i}: lesson one, lesson two.\n").into_bytes();
        let uploaded = upload_file(http, &url, &token, content.clone()).await?;
        course = Some(uploaded["courseId"].as_str().unwrap_or_default().parse()?);
        file = Some((
            uploaded["id"].as_str().unwrap_or_default().to_owned(),
            content,
        ));
    }
    if let Visit::Submit { .. } = visit {
        http.patch(&url)
            .bearer_auth(&token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"formData": {"topic": format!("Course {i}")}}).to_string())
            .send()
            .await?
            .error_for_status()?;
        let submitted: Value = http
            .post(format!("{url}/submit"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id: Uuid = submitted["courseId"].as_str().unwrap_or_default().parse()?;
        let course_url = format!("{base}/api/v1/courses/{id}");
        if visit.trashes() {
            let trashed = http.delete(&course_url).bearer_auth(&token).send().await?;
            anyhow::ensure!(
                trashed.status() == 200,
                "delete answered {}",
                trashed.status()
            );
        }
        if visit.restores() {
            let restored = http
                .post(format!("{course_url}/restore"))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(
                restored.status() == 200,
                "restore answered {}",
                restored.status()
            );
        }
        if visit.erases_account() {
            erase_user(http, base, user).await?;
        }
        course = Some(id);
    }
    Ok(Outcome {
        visit,
        user,
        token,
        draft,
        course,
        file,
    })
}

/// Erases the user through the admin route and waits until the erase is done.
async fn erase_user(http: &Client, base: &str, user: Uuid) -> anyhow::Result<()> {
    let admin = service_token();
    let started = http
        .post(format!("{base}/api/v1/admin/erase"))
        .bearer_auth(&admin)
        .json(&json!({ "userId": user }))
        .send()
        .await?;
    anyhow::ensure!(
        started.status() == 202,
        "POST /api/v1/admin/erase answered {}{}",
        started.status(),
        if started.status() == 404 {
            ": this build has no organization/user erase"
        } else {
            ""
        }
    );
    let location = started
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| anyhow::anyhow!("the erase's 202 has no Location"))?;
    let state_url = format!("{base}{location}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state: Value = http
            .get(&state_url)
            .bearer_auth(&admin)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        match state["status"].as_str() {
            Some("done") => return Ok(()),
            Some("running") => {}
            _ => anyhow::bail!("the erase of user {user} ended: {state}"),
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the erase of user {user} is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the owners of the kept courses see, counted over the kept ones
/// and over the restored ones among them.
#[derive(Debug, Default)]
pub struct Seen {
    /// In the owner's list of courses.
    pub listed: usize,
    pub restored_listed: usize,
    /// Files that download byte-identical to what was uploaded.
    pub identical: usize,
    pub restored_identical: usize,
}

/// Looks for each kept course in its owner's list, and downloads its file.
pub async fn check_kept(http: &Client, base: &str, outcomes: &[Outcome]) -> anyhow::Result<Seen> {
    let checks = stream::iter(outcomes.iter().filter(|o| o.visit.kept()))
        .map(|kept| async move {
            let course = kept.course.unwrap_or_default();
            let list: Value = http
                .get(format!("{base}/api/v1/courses"))
                .bearer_auth(&kept.token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let listed = list["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|c| c["id"] == course.to_string()));
            let identical = match &kept.file {
                Some((file, content)) => {
                    let download = http
                        .get(format!("{base}/api/v1/courses/{course}/files/{file}"))
                        .bearer_auth(&kept.token)
                        .send()
                        .await?
                        .error_for_status()?
                        .bytes()
                        .await?;
                    download[..] == content[..]
                }
                None => false,
            };
            anyhow::Ok((kept.visit.restores(), listed, identical))
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let mut seen = Seen::default();
    for check in checks {
        let (restored, listed, identical) = check?;
        seen.listed += usize::from(listed);
        seen.identical += usize::from(identical);
        seen.restored_listed += usize::from(restored && listed);
        seen.restored_identical += usize::from(restored && identical);
    }
    Ok(seen)
}
