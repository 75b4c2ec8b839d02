//! What the storage knobs mean: the file storage (a directory or an S3
//! bucket), the quotas and the rules an upload is held to.

use super::{Config, StorageKind};
use crate::domain::course::FileQuota;
use crate::domain::upload::UploadRules;
use crate::stores::files::{FileStorage, S3Settings};

impl Config {
    pub fn file_storage(&self) -> anyhow::Result<FileStorage> {
        match self.storage {
            StorageKind::Local => FileStorage::local(&self.upload_dir, self.store_timeout()),
            StorageKind::S3 => FileStorage::s3(
                &S3Settings {
                    bucket: self.s3_bucket.clone(),
                    endpoint: self.s3_endpoint.clone(),
                    region: self.s3_region.clone(),
                    access_key_id: self.s3_access_key_id.clone(),
                    secret_access_key: self.s3_secret_access_key.clone(),
                    allow_http: self.s3_allow_http,
                },
                self.store_timeout(),
            ),
        }
    }

    pub fn file_quota(&self) -> FileQuota {
        FileQuota {
            files_per_course: self.max_files_per_course,
            organization_bytes: self.org_storage_bytes,
            reserved_bytes_per_user: self.tus.reserved_bytes_per_user,
        }
    }

    pub fn upload_rules(&self) -> UploadRules {
        UploadRules {
            max_bytes: self.max_upload_bytes,
            content_types: self
                .upload_content_types
                .iter()
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }
}
