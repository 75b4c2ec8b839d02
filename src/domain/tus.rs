//! Resumable uploads (tus 1.0.0): what an unfinished upload is, its header
//! values, and its running SHA-256, kept between requests and processes.
//!
//! An upload's stored state always describes its bytes up to its offset and
//! nothing more: the offset is what is durable in storage, and the checksum
//! and the content check are over exactly those bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::digest::common::hazmat::SerializableState;
use sha2::{Digest, Sha256};

use super::content::SavedCheck;
use super::ids::{CourseId, DraftId, FileId, OrgId, UploadId, UserId};
use super::string_enum;

/// The protocol version spoken, the only one.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions supported, as `Tus-Extension` lists them.
pub const TUS_EXTENSIONS: &str = "creation,termination,expiration";

/// Where an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TusStatus {
    /// Bytes are still arriving.
    Receiving,
    /// Its file row exists; the upload is kept as a receipt until it expires,
    /// so that a retried last PATCH finds it finished.
    Finished,
}

string_enum!(TusStatus, "upload status", {
    Receiving => "receiving",
    Finished => "finished",
});

/// Why a tus request is refused, beyond the rules every upload follows.
#[derive(Debug, thiserror::Error)]
pub enum TusError {
    #[error("Upload-Offset is {sent}, but the upload is at {current}")]
    OffsetMismatch { sent: u64, current: u64 },
    #[error("{0}")]
    BadHeader(&'static str),
    #[error("Upload-Defer-Length is not supported: send Upload-Length")]
    DeferLength,
    #[error("the body goes past the upload's length of {length} bytes")]
    PastLength { length: u64 },
    #[error("another request is writing this upload; retry shortly")]
    Locked,
    #[error("the upload finished: it is file {file_id}; delete the file instead")]
    Finished { file_id: FileId },
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs, of which
/// `filename` and `filetype` are read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TusMetadata {
    pub filename: Option<String>,
    pub filetype: Option<String>,
}

impl TusMetadata {
    pub fn parse(header: &str) -> Result<Self, TusError> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;

        let mut metadata = Self::default();
        for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let decode = || {
                let bytes = STANDARD
                    .decode(value.trim())
                    .map_err(|_| TusError::BadHeader("an Upload-Metadata value is not base64"))?;
                String::from_utf8(bytes)
                    .map_err(|_| TusError::BadHeader("an Upload-Metadata value is not UTF-8"))
            };
            match key {
                "filename" => metadata.filename = Some(decode()?),
                "filetype" => metadata.filetype = Some(decode()?),
                _ => {}
            }
        }
        Ok(metadata)
    }
}

/// A header value that must be a non-negative integer (`Upload-Length`,
/// `Upload-Offset`): digits only.
pub fn parse_size(value: &str, what: &'static str) -> Result<u64, TusError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TusError::BadHeader(what));
    }
    value.parse().map_err(|_| TusError::BadHeader(what))
}

/// A SHA-256 that goes on across requests: its state is stored with the
/// upload (sha2's serializable state) after every durable step.
#[derive(Clone, Default)]
pub struct RunningHash(Sha256);

impl RunningHash {
    pub fn restore(state: &[u8]) -> Option<Self> {
        let state = <&_>::try_from(state).ok()?;
        Sha256::deserialize(state).ok().map(Self)
    }

    pub fn save(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// One written part of an S3 multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TusPart {
    pub number: usize,
    pub etag: String,
}

/// Where an unfinished upload's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TusBytes {
    /// A staging file, relative to the storage root, holding the bytes so far.
    Local { staging_path: String },
    /// S3: full parts of a multipart upload (started with the first one,
    /// its id recorded), then the bytes after them in a tail object.
    S3 {
        upload_id: Option<String>,
        parts: Vec<TusPart>,
        tail_key: String,
        tail_bytes: u64,
    },
}

/// An upload, as stored.
#[derive(Debug, Clone)]
pub struct TusUpload {
    pub id: UploadId,
    pub draft_session_id: DraftId,
    pub owner_id: UserId,
    pub organization_id: OrgId,
    pub course_id: CourseId,
    pub file_id: FileId,
    pub storage_key: String,
    pub original_name: String,
    pub content_type: String,
    pub length: u64,
    pub offset: u64,
    pub status: TusStatus,
    pub hash: Vec<u8>,
    pub check: SavedCheck,
    pub bytes: TusBytes,
    pub expires_at: DateTime<Utc>,
}

/// An upload's progress after a durable step, to store.
#[derive(Debug, Clone)]
pub struct TusProgress {
    pub offset: u64,
    pub hash: Vec<u8>,
    pub check: SavedCheck,
    pub bytes: TusBytes,
}

/// What creating an upload answered.
pub enum TusCreated {
    Created(Box<TusUpload>),
    /// The course holds (or has reserved) `limit` files.
    TooManyFiles {
        limit: i64,
    },
    /// The organization's files and reservations would pass `limit`.
    StorageFull {
        limit: i64,
        used: i64,
    },
    /// The user's unfinished uploads hold `used` bytes reserved and unsent;
    /// this one would pass `limit`.
    ReservationsFull {
        limit: i64,
        used: i64,
    },
}

/// What recording a finished upload's file came to.
pub enum TusFinish {
    /// Recorded now, or refused (quota, trash, fence): see the outcome.
    Recorded(super::course::RecordOutcome),
    /// An earlier request recorded it: the same file.
    AlreadyFinished,
    /// Its record went meanwhile (terminated, or expired and swept): a race
    /// with that request, not a fault of the store.
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_filename_and_filetype() {
        let parsed =
            TusMetadata::parse("filename cGxhbi5wZGY=,filetype YXBwbGljYXRpb24vcGRm,is_ok")
                .unwrap();
        assert_eq!(parsed.filename.as_deref(), Some("plan.pdf"));
        assert_eq!(parsed.filetype.as_deref(), Some("application/pdf"));
        assert!(TusMetadata::parse("filename !!!").is_err());
        assert_eq!(TusMetadata::parse("").unwrap(), TusMetadata::default());
    }

    #[test]
    fn sizes_are_digits_only() {
        assert_eq!(parse_size("42", "x").unwrap(), 42);
        for bad in ["", "-1", "+1", "1.0", " 1", "99999999999999999999"] {
            assert!(parse_size(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_running_hash_survives_its_state() {
        let mut hash = RunningHash::default();
        hash.update(b"hello ");
        let mut restored = RunningHash::restore(&hash.save()).unwrap();
        restored.update(b"world");
        assert_eq!(
            restored.finish(),
            hex::encode(Sha256::digest(b"hello world"))
        );
        assert!(RunningHash::restore(b"short").is_none());
    }
}
