//! Crash residue on the local backend: the staging files of uploads a killed
//! process never finished, which `object_store`'s listings hide.

use chrono::{DateTime, Utc};

use super::FileStorage;
use crate::domain::{Backend, StoreError};
use crate::stores::bounded;

/// A staging file no finished upload owns, relative to the storage root.
#[derive(Debug, Clone)]
pub struct Residue {
    pub path: String,
    pub bytes: u64,
    pub modified: DateTime<Utc>,
}

/// `LocalFileSystem` writes an upload to `<key>#<n>` and renames it into
/// place when it completes; such a name never belongs to a stored object.
fn staging_files(root: &std::path::Path) -> std::io::Result<Vec<Residue>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other?,
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(entry.path());
            } else if entry.file_name().to_string_lossy().contains('#') {
                let path = entry.path();
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                found.push(Residue {
                    path: relative.to_string_lossy().into_owned(),
                    bytes: meta.len(),
                    modified: meta.modified()?.into(),
                });
            }
        }
    }
    Ok(found)
}

impl FileStorage {
    /// Bytes that no finished upload owns: the local backend's staging files
    /// (`<key>#<n>`, which listings hide), left by a process killed while it
    /// wrote them; with their size and last change. The S3 backend has none
    /// to list here (a bucket lifecycle rule aborts incomplete multipart
    /// uploads there).
    pub async fn staging_residue(&self) -> Result<Vec<Residue>, StoreError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(Vec::new());
        };
        let walk = tokio::task::spawn_blocking(move || staging_files(&root));
        bounded(Backend::Files, self.timeout, async {
            walk.await
                .map_err(|e| e.to_string())
                .and_then(|found| found.map_err(|e| e.to_string()))
                .map_err(|e| StoreError::failed(Backend::Files, e))
        })
        .await
    }

    /// Removes one staging file [`FileStorage::staging_residue`] found.
    pub async fn remove_residue(&self, residue: &Residue) -> Result<(), StoreError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        match tokio::fs::remove_file(root.join(&residue.path)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::failed(Backend::Files, e.to_string()))
            }
            _ => {}
        }
        self.remove_empty_parents(&residue.path);
        Ok(())
    }
}
