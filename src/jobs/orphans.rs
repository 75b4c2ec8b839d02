//! The orphan sweep, daily: a safety net for what no cleanup job knows of.
//! Removes storage prefixes of courses that do not exist and the bytes of
//! uploads that never finished (a process killed mid-upload leaves its
//! staging file), both once older than a grace period, so that an upload
//! streaming now is left alone; and draft sessions whose course no longer
//! exists. An unfinished resumable (tus) upload is not residue until it
//! expires; then its bytes and its record go.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::course::course_of_storage_key;
use crate::domain::ids::CourseId;
use crate::domain::tus::TusStatus;
use crate::domain::StoreError;
use crate::stores::files::FileStorage;
use crate::stores::postgres::tus::PgTus;
use crate::stores::postgres::PgCourses;
use crate::stores::redis::RedisDrafts;

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrphanReport {
    pub dry_run: bool,
    /// Course prefixes found in storage.
    pub prefixes_checked: u64,
    /// Prefixes with no course row, older than the grace period.
    pub orphan_prefixes: u64,
    pub objects_removed: u64,
    pub sessions_checked: u64,
    /// Draft sessions pointing at a course that no longer exists.
    pub orphan_sessions: u64,
    /// Bytes of uploads that never finished (staging files), older than the
    /// grace period: how many, and their size.
    pub residue_found: u64,
    pub residue_bytes: u64,
    /// S3 multipart uploads recorded, never completed, older than the grace
    /// period: aborted (their parts go).
    pub incomplete_uploads: u64,
    /// Resumable uploads past their expiry (unfinished: with their bytes).
    pub expired_uploads: u64,
    pub duration_ms: u64,
}

impl OrphanReport {
    /// The sweep's log line and, unless a dry run, its metrics.
    fn record(&self) {
        tracing::info!(
            dry_run = self.dry_run,
            prefixes_checked = self.prefixes_checked,
            orphan_prefixes = self.orphan_prefixes,
            objects_removed = self.objects_removed,
            sessions_checked = self.sessions_checked,
            orphan_sessions = self.orphan_sessions,
            residue_found = self.residue_found,
            residue_bytes = self.residue_bytes,
            incomplete_uploads = self.incomplete_uploads,
            expired_uploads = self.expired_uploads,
            duration_ms = self.duration_ms,
            "orphans.swept"
        );
        if self.dry_run {
            return;
        }
        metrics::counter!("draftd_orphan_sweeps_total").increment(1);
        for (kind, removed) in [
            ("object", self.objects_removed),
            ("session", self.orphan_sessions),
            ("residue", self.residue_found),
            ("multipart_upload", self.incomplete_uploads),
            ("expired_upload", self.expired_uploads),
        ] {
            metrics::counter!("draftd_orphans_removed_total", "kind" => kind).increment(removed);
        }
        metrics::counter!("draftd_orphan_residue_bytes_removed_total")
            .increment(self.residue_bytes);
    }
}

#[derive(Clone)]
pub struct OrphanSweep {
    courses: PgCourses,
    tus: PgTus,
    files: FileStorage,
    redis: RedisDrafts,
    grace: Duration,
}

/// A course's prefix in storage: `{orgId}/{courseId}`.
struct Prefix {
    keys: Vec<String>,
    newest: DateTime<Utc>,
}

impl OrphanSweep {
    pub fn new(
        courses: PgCourses,
        tus: PgTus,
        files: FileStorage,
        redis: RedisDrafts,
        grace: Duration,
    ) -> Self {
        Self {
            courses,
            tus,
            files,
            redis,
            grace,
        }
    }

    pub async fn run(&self, dry_run: bool) -> Result<OrphanReport, StoreError> {
        let started = Instant::now();
        let mut report = OrphanReport {
            dry_run,
            ..OrphanReport::default()
        };
        let grace = chrono::Duration::from_std(self.grace).unwrap_or(chrono::Duration::MAX);
        let settled = Utc::now() - grace;
        self.sweep_prefixes(settled, &mut report).await?;
        self.sweep_residue(settled, &mut report).await?;
        // Before the multipart uploads: an expired upload's parts go with it.
        report.expired_uploads = self.sweep_expired(dry_run).await?;
        for upload in self.files.stale_uploads(settled).await? {
            if !dry_run {
                self.files.abort_stale(&upload).await?;
            }
            report.incomplete_uploads += 1;
        }
        self.sweep_sessions(&mut report).await?;
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report.record();
        Ok(report)
    }

    /// Course prefixes with no course row, untouched since `settled`.
    async fn sweep_prefixes(
        &self,
        settled: DateTime<Utc>,
        report: &mut OrphanReport,
    ) -> Result<(), StoreError> {
        let mut prefixes: HashMap<CourseId, Prefix> = HashMap::new();
        for (key, modified) in self.files.list_with_times(None).await? {
            // Only keys of the shape draftd writes.
            let Some((_, course)) = course_of_storage_key(&key) else {
                continue;
            };
            let prefix = prefixes.entry(course).or_insert(Prefix {
                keys: Vec::new(),
                newest: modified,
            });
            prefix.newest = prefix.newest.max(modified);
            prefix.keys.push(key);
        }
        report.prefixes_checked = prefixes.len() as u64;
        let ids: Vec<CourseId> = prefixes.keys().copied().collect();
        let existing = self.courses.existing(&ids).await?;
        for (course, prefix) in prefixes {
            if existing.contains(&course) || prefix.newest > settled {
                continue;
            }
            report.orphan_prefixes += 1;
            for key in &prefix.keys {
                if !report.dry_run {
                    self.files.delete(key).await?;
                }
                report.objects_removed += 1;
            }
        }
        Ok(())
    }

    /// Staging files of uploads that never finished, untouched since `settled`.
    async fn sweep_residue(
        &self,
        settled: DateTime<Utc>,
        report: &mut OrphanReport,
    ) -> Result<(), StoreError> {
        for residue in self.files.staging_residue().await? {
            if residue.modified > settled {
                continue;
            }
            if !report.dry_run {
                self.files.remove_residue(&residue).await?;
            }
            report.residue_found += 1;
            report.residue_bytes += residue.bytes;
        }
        Ok(())
    }

    /// Draft sessions linked to a course that no longer exists.
    async fn sweep_sessions(&self, report: &mut OrphanReport) -> Result<(), StoreError> {
        let sessions = self.redis.scan().await?;
        report.sessions_checked = sessions.len() as u64;
        let linked: Vec<CourseId> = sessions.iter().filter_map(|s| s.course).collect();
        let existing = self.courses.existing(&linked).await?;
        for session in sessions {
            if session.course.is_some_and(|c| !existing.contains(&c)) {
                if !report.dry_run {
                    self.redis.delete(session.user, session.draft).await?;
                }
                report.orphan_sessions += 1;
            }
        }
        Ok(())
    }

    /// Removes expired resumable uploads: an unfinished one's bytes, then
    /// every one's record (a finished one's receipt has no bytes of its own).
    async fn sweep_expired(&self, dry_run: bool) -> Result<u64, StoreError> {
        const BATCH: i64 = 500;
        let mut removed = 0;
        loop {
            let expired = self.tus.expired(BATCH).await?;
            if dry_run {
                return Ok(expired.len() as u64);
            }
            for upload in &expired {
                if upload.status == TusStatus::Receiving {
                    self.files
                        .tus_discard(&upload.storage_key, &upload.bytes)
                        .await?;
                }
                self.tus.delete(upload.id).await?;
                removed += 1;
            }
            if (expired.len() as i64) < BATCH {
                return Ok(removed);
            }
        }
    }
}
