//! Where a run's files go, chosen by its seed so that a replay stores them
//! the same way: even seeds in a directory of the run's own, odd seeds on an
//! S3-protocol server of its own (s3s-fs). Either way a storage key is a
//! path under one directory (s3s-fs keeps a bucket's objects as files), and
//! that is what the snapshot lists. An S3 multipart upload in progress is
//! not in the bucket until it completes: it shows as its row in the
//! service's `multipart_uploads` ledger and as s3s-fs's part files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use uuid::Uuid;

use crate::servers::S3Server;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    Local,
    S3,
}

impl StorageKind {
    pub fn of_seed(seed: u64) -> StorageKind {
        if seed % 2 == 1 {
            StorageKind::S3
        } else {
            StorageKind::Local
        }
    }
}

/// What the stores hold of the files once the jobs are quiet.
pub struct Listing {
    /// Objects and staging files, as storage keys; an S3 upload in progress
    /// as its key with " (upload in progress)" after it.
    pub stored: Vec<String>,
    /// s3s-fs part files of uploads no ledger row records: nothing would
    /// ever abort them.
    pub unrecorded_parts: Vec<String>,
    /// Bytes of the stored files of each organization (`{org}/{course}/…`).
    pub bytes_by_org: HashMap<Uuid, u64>,
}

pub struct Storage {
    pub kind: StorageKind,
    /// The directory whose relative paths are the storage keys.
    pub objects: PathBuf,
    s3: Option<S3Server>,
    /// The run's database: its ledger tells which S3 uploads are in progress.
    db: tokio_postgres::Client,
}

impl Storage {
    pub async fn start(kind: StorageKind, dir: &Path, db: tokio_postgres::Client) -> Storage {
        let (objects, s3) = match kind {
            StorageKind::Local => (dir.to_path_buf(), None),
            StorageKind::S3 => {
                let server = S3Server::start(dir).await;
                (dir.join(S3Server::BUCKET), Some(server))
            }
        };
        std::fs::create_dir_all(&objects).expect("storage dir");
        Storage {
            kind,
            objects,
            s3,
            db,
        }
    }

    /// The replicas' settings for this storage.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match &self.s3 {
            None => vec![
                ("DRAFTD_STORAGE", "local".into()),
                ("DRAFTD_UPLOAD_DIR", self.objects.display().to_string()),
            ],
            Some(s3) => vec![
                ("DRAFTD_STORAGE", "s3".into()),
                ("DRAFTD_S3_BUCKET", S3Server::BUCKET.into()),
                (
                    "DRAFTD_S3_ENDPOINT",
                    format!("http://127.0.0.1:{}", s3.port),
                ),
                ("DRAFTD_S3_ALLOW_HTTP", "true".into()),
                ("DRAFTD_S3_ACCESS_KEY_ID", S3Server::ACCESS_KEY.into()),
                ("DRAFTD_S3_SECRET_ACCESS_KEY", S3Server::SECRET_KEY.into()),
            ],
        }
    }

    /// Waits until an upload under `prefix` (`{org}/{course}/`) has reached
    /// the storage: its staging file exists (local), or its multipart upload
    /// is recorded (S3, where a small body is sent only at its end). The
    /// server has then checked the draft and holds the upload. Gives up
    /// after 3 s (the upload was refused, or its replica died), and the race
    /// goes on unforced.
    pub async fn upload_started(&self, prefix: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < deadline {
            if self.holds_upload(prefix).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn holds_upload(&self, prefix: &str) -> bool {
        match self.kind {
            StorageKind::Local => std::fs::read_dir(self.objects.join(prefix))
                .is_ok_and(|mut entries| entries.next().is_some()),
            StorageKind::S3 => self
                .db
                .query_opt(
                    "SELECT 1 FROM multipart_uploads WHERE left(storage_key, length($1)) = $1 LIMIT 1",
                    &[&prefix],
                )
                .await
                .is_ok_and(|row| row.is_some()),
        }
    }

    pub async fn listing(&self) -> Listing {
        let mut stored = files_under(&self.objects, &self.objects);
        let mut bytes_by_org = HashMap::new();
        for key in &stored {
            if let Some((org, _)) = draftd::domain::course::course_of_storage_key(key) {
                let size = std::fs::metadata(self.objects.join(key)).map_or(0, |m| m.len());
                *bytes_by_org.entry(org.as_uuid()).or_default() += size;
            }
        }
        let Some(s3) = &self.s3 else {
            return Listing {
                stored,
                unrecorded_parts: Vec::new(),
                bytes_by_org,
            };
        };
        let ledger = self
            .db
            .query("SELECT storage_key, upload_id FROM multipart_uploads", &[])
            .await
            .expect("the upload ledger");
        let recorded: HashSet<String> = ledger.iter().map(|row| row.get(1)).collect();
        // s3s-fs keeps a part as `.upload_id-{id}.part-{n}` beside the bucket.
        let parts: Vec<(String, String)> = std::fs::read_dir(&s3.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter_map(|name| {
                let (id, _) = name.strip_prefix(".upload_id-")?.split_once(".part-")?;
                Some((id.to_owned(), name.clone()))
            })
            .collect();
        // A ledger row is residue with or without parts: the sweep forgets
        // the record of an upload S3 no longer knows.
        stored.extend(
            ledger
                .iter()
                .map(|row| format!("{} (upload in progress)", row.get::<_, String>(0))),
        );
        let unrecorded_parts = parts
            .into_iter()
            .filter(|(id, _)| !recorded.contains(id))
            .map(|(_, name)| name)
            .collect();
        Listing {
            stored,
            unrecorded_parts,
            bytes_by_org,
        }
    }
}

fn files_under(root: &Path, dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path: PathBuf = entry.path();
        if path.is_dir() {
            found.extend(files_under(root, &path));
        } else if let Ok(relative) = path.strip_prefix(root) {
            found.push(relative.to_string_lossy().into_owned());
        }
    }
    found
}
