//! Uploads: a file streams into the draft's course, its content checked as it
//! goes; the first file creates the course row.

use bytes::Bytes;
use futures_util::stream;
use futures_util::{Stream, StreamExt};

use super::{new_course, Courses};
use crate::app::AppError;
use crate::domain::content::ContentCheck;
use crate::domain::course::{storage_key, NewFile, RecordOutcome};
use crate::domain::ids::{DraftId, FileId};
use crate::domain::upload::{FileName, UploadError};
use crate::domain::{CourseFile, CourseRef, Draft, DraftStatus, MaterializedBy, Owner};
use crate::stores::files::PutError;

/// What an upload stored, and in which course.
pub struct Uploaded {
    pub file: CourseFile,
    pub course: CourseRef,
    /// This upload created the course row.
    pub created: bool,
}

/// Why an upload's body stream ended early.
enum BodyError<E> {
    /// The client's stream failed.
    Client(E),
    /// The content is not what the upload declared.
    Refused(UploadError),
}

/// `body`, passed through `check` chunk by chunk: a chunk the check refuses,
/// or an end it refuses, becomes the stream's error, so that the storage
/// aborts the upload there.
fn checked<S, E>(body: S, check: ContentCheck) -> impl Stream<Item = Result<Bytes, BodyError<E>>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    stream::unfold(Some((Box::pin(body), check)), |state| async move {
        let (mut body, mut check) = state?;
        let item = match body.next().await {
            Some(Ok(chunk)) => match check.feed(&chunk) {
                Ok(()) => return Some((Ok(chunk), Some((body, check)))),
                Err(refused) => BodyError::Refused(refused),
            },
            Some(Err(e)) => BodyError::Client(e),
            None => match check.finish() {
                Ok(()) => return None,
                Err(refused) => BodyError::Refused(refused),
            },
        };
        Some((Err(item), None))
    })
}

impl Courses {
    /// Streams a file into the draft's course, creating the course row with
    /// the first file. Its content is checked against its type on the way; a
    /// refused or broken upload leaves no file and no row.
    pub async fn upload<S, E>(
        &self,
        owner: Owner,
        draft_id: DraftId,
        name: &str,
        declared_type: Option<&str>,
        body: S,
    ) -> Result<Uploaded, AppError>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let _slot = self.limits.uploads.take(owner)?;
        self.limits.writes.count(owner).await?;
        let draft = self.draft(owner, draft_id).await?;
        if draft.status == DraftStatus::Submitted {
            return Err(AppError::Submitted);
        }
        if draft.course_trashed {
            return Err(AppError::Trashed);
        }
        let name = FileName::parse(name)?;
        let content_type = self.limits.rules.content_type(declared_type, &name)?;
        let new = new_course(owner, &draft, MaterializedBy::Upload);
        let file_id = FileId::new();
        // Known before the row exists: the course id is derived from the draft.
        let key = storage_key(draft.organization_id, new.id, file_id);

        let body = checked(body, ContentCheck::new(&content_type));
        let stored = self
            .files
            .put_stream(&key, body, self.limits.rules.max_bytes)
            .await
            .map_err(|e| match e {
                PutError::TooLarge(limit) => UploadError::TooLarge { limit }.into(),
                PutError::Empty => UploadError::Empty.into(),
                PutError::Body(BodyError::Refused(refused)) => refused.into(),
                PutError::Body(BodyError::Client(_)) => UploadError::BrokeOff.into(),
                PutError::Store(e) => AppError::Store(e),
            })?;
        let record = NewFile {
            id: file_id,
            storage_key: &key,
            original_name: name.as_str(),
            content_type: &content_type,
            size_bytes: i64::try_from(stored.size).unwrap_or(i64::MAX),
            sha256: &stored.sha256,
        };
        let recorded = self
            .file_rows
            .materialize_with_file(&new, &record, self.limits.quota)
            .await;
        let refused = match recorded {
            Ok(RecordOutcome::Recorded {
                course,
                file,
                created,
            }) => {
                let attached = self.attach(owner, &draft, &course, created).await;
                attached_after_upload(attached, &draft)?;
                return Ok(Uploaded {
                    file,
                    course: (&*course).into(),
                    created,
                });
            }
            Ok(RecordOutcome::TooManyFiles { limit }) => AppError::TooManyFiles { limit },
            Ok(RecordOutcome::StorageFull { limit, used }) => AppError::StorageFull { limit, used },
            Ok(RecordOutcome::Trashed) => AppError::Trashed,
            Ok(RecordOutcome::Fenced(fence)) => fence.into(),
            Err(e) => e.into(),
        };
        if let Err(cleanup) = self.files.delete(&key).await {
            tracing::warn!(key, error = %cleanup, "could not remove an unrecorded upload");
        }
        Err(refused)
    }
}

/// What [`Self::attach`] came to, after an upload recorded its file.
/// The file is in: a Redis that failed now must not turn the upload into
/// a 503, which tells a client to send the file again. The draft can do
/// without the link meanwhile (a draft's course id follows from its own),
/// and its next materialize, upload or submit records it.
pub(super) fn attached_after_upload(
    attached: Result<(), AppError>,
    draft: &Draft,
) -> Result<(), AppError> {
    match attached {
        Err(AppError::Store(e)) if e.is_unavailable() => {
            tracing::warn!(draft = %draft.id, error = %e,
                "the upload is recorded; its draft will learn its course at its next write");
            metrics::counter!("draftd_course_links_deferred_total").increment(1);
            Ok(())
        }
        other => other,
    }
}
