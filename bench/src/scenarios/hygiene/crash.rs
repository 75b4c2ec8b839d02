//! The hygiene simulation's crash: the service is killed (SIGKILL) while
//! uploads stream in; their staging files, which no listing shows, are the
//! orphan sweep's to find and remove once the service is back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Client;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::visit::Outcome;
use super::{admin_call, PATIENCE};
use crate::scenarios::wait_for;
use crate::service::Service;
use crate::unfinished_upload::unfinished_upload;
use crate::visits::Visit;

/// Uploads cut off by the crash, each to a different course.
pub const CUT_UPLOADS: usize = 3;
/// What each of them sends before the crash, of a body announced 20 MiB longer.
pub const SENT: usize = 12 << 20;
/// Written to storage before the crash: the staging file has some bytes.
const STAGED: u64 = 5 << 20;

/// What the sweep made of the crash's residue.
#[derive(Debug)]
pub struct Residue {
    /// The dry run's find once the grace period had passed: files, bytes.
    pub found: (u64, u64),
    /// What the real sweep removed.
    pub removed: u64,
    /// A dry run's find after it.
    pub found_after: u64,
    /// Staging files left on disk after it.
    pub staging_left: usize,
}

/// Kills the service while [`CUT_UPLOADS`] uploads stream, restarts it, and
/// runs the orphan sweep: a dry run until the residue is past the grace
/// period, the sweep, a dry run again.
pub async fn crash_mid_uploads(
    http: &Client,
    service: &mut Service,
    outcomes: &[Outcome],
) -> anyhow::Result<Residue> {
    // Drafts whose course the visit made and left: an upload there makes
    // no new row, so the run's counts stay the visits'. The last ones: their
    // drafts are the furthest from their TTL.
    let targets = outcomes
        .iter()
        .rev()
        .filter(|o| o.visit == Visit::UploadAndLeave)
        .take(CUT_UPLOADS);
    let mut streams = Vec::new();
    for outcome in targets {
        streams.push(start_upload(service.port(), outcome).await?);
    }
    anyhow::ensure!(streams.len() == CUT_UPLOADS, "too few visits uploaded");
    let dir = service.upload_dir.clone();
    wait_for(
        "every cut upload has staged bytes",
        PATIENCE,
        Duration::from_millis(50),
        || async {
            Ok(staging_files(&dir)
                .iter()
                .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.len() >= STAGED))
                .count()
                == CUT_UPLOADS)
        },
    )
    .await?;
    service.crash_and_restart().await?;
    drop(streams);

    let sweep = "orphans/sweep";
    let dry = || admin_call(http, &service.base, sweep, true);
    wait_for(
        "the residue is past the grace period",
        PATIENCE,
        Duration::from_millis(200),
        || async { Ok(dry().await?["residueFound"].as_u64() == Some(CUT_UPLOADS as u64)) },
    )
    .await?;
    let found: Value = dry().await?;
    let removed = admin_call(http, &service.base, sweep, false).await?;
    let after = dry().await?;
    let count = |report: &Value, field: &str| report[field].as_u64().unwrap_or_default();
    Ok(Residue {
        found: (count(&found, "residueFound"), count(&found, "residueBytes")),
        removed: count(&removed, "residueFound"),
        found_after: count(&after, "residueFound"),
        staging_left: staging_files(&service.upload_dir).len(),
    })
}

/// Sends the head of a text upload to the visit's draft and [`SENT`] bytes
/// of its body; the stream, still open.
async fn start_upload(port: u16, outcome: &Outcome) -> anyhow::Result<TcpStream> {
    let (head, body) = unfinished_upload(outcome.draft, &outcome.token, SENT);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    Ok(stream)
}

/// Staging files: `<key>#<n>`, which the storage's listing hides.
fn staging_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(staging_files(&path));
        } else if path.to_string_lossy().contains('#') {
            found.push(path);
        }
    }
    found
}
