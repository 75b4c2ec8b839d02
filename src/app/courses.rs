//! Making drafts real: materialize, submit and upload write one course row per
//! draft, whatever races; reading and listing courses and their files. The
//! trash, and erasing courses (always through the cleanup queue), are in
//! `lifecycle.rs`.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::limits::{Slots, WriteRate};
use super::{AppError, DraftSessions};
use crate::domain::cleanup::CleanupPolicy;
use crate::domain::course::{course_id_for, title_from, FileQuota, NewCourse, SubmitOutcome};
use crate::domain::form::SubmittedForm;
use crate::domain::ids::{CourseId, DraftId, FileId};
use crate::domain::page::{Page, PageRequest};
use crate::domain::upload::UploadRules;
use crate::domain::{
    Course, CourseFile, CourseList, CourseRef, CourseSummary, CourseWithFiles, Draft, DraftStatus,
    DraftStore, MaterializedBy, Owner, StoreError,
};
use crate::jobs::queue::Wake;
use crate::stores::files::FileStorage;
use crate::stores::postgres::files::PgFiles;
use crate::stores::postgres::tus::PgTus;
use crate::stores::postgres::PgCourses;

mod lifecycle;
mod tus;
mod upload;

pub use tus::{TusLimits, TusState};
pub use upload::Uploaded;

/// How often submit re-reads a draft that autosaves keep changing.
const SUBMIT_ATTEMPTS: usize = 10;

#[derive(Clone)]
pub struct Courses {
    drafts: DraftSessions,
    courses: PgCourses,
    file_rows: PgFiles,
    tus: PgTus,
    files: FileStorage,
    limits: CourseLimits,
    cleanup: CleanupHandle,
    /// How long a deleted course stays in the trash, restorable.
    retention: Duration,
}

/// What a user's writes to courses are held to.
#[derive(Clone)]
pub struct CourseLimits {
    pub rules: UploadRules,
    pub quota: FileQuota,
    pub writes: WriteRate,
    pub uploads: Slots,
    pub resumable: TusLimits,
}

/// The stores courses are kept in: rows, files, and resumable uploads.
#[derive(Clone)]
pub struct CourseStores {
    pub courses: PgCourses,
    pub file_rows: PgFiles,
    pub tus: PgTus,
    pub files: FileStorage,
}

/// How deletions reach the job queue: what they record, and a nudge so that
/// the runner starts at once instead of at its next poll.
#[derive(Clone)]
pub struct CleanupHandle {
    pub policy: CleanupPolicy,
    pub wake: Wake,
}

fn new_course<'a>(owner: Owner, draft: &'a Draft, by: MaterializedBy) -> NewCourse<'a> {
    NewCourse {
        id: draft.course_id.unwrap_or_else(|| course_id_for(draft.id)),
        draft_session_id: draft.id,
        owner,
        title: title_from(&draft.form_data),
        form_data: &draft.form_data,
        materialized_by: by,
        draft_version: (draft.store == DraftStore::Postgres)
            .then(|| i64::try_from(draft.version).unwrap_or(i64::MAX)),
    }
}

impl Courses {
    pub fn new(
        drafts: DraftSessions,
        stores: CourseStores,
        limits: CourseLimits,
        cleanup: CleanupHandle,
        retention: Duration,
    ) -> Self {
        let CourseStores {
            courses,
            file_rows,
            tus,
            files,
        } = stores;
        Self {
            drafts,
            courses,
            file_rows,
            tus,
            files,
            limits,
            cleanup,
            retention,
        }
    }

    async fn draft(&self, owner: Owner, id: DraftId) -> Result<Draft, AppError> {
        self.drafts.get(owner, id).await
    }

    /// The draft, unless its course is in the trash: nothing changes
    /// through such a draft.
    async fn changeable_draft(&self, owner: Owner, id: DraftId) -> Result<Draft, AppError> {
        let draft = self.draft(owner, id).await?;
        if draft.course_trashed {
            return Err(AppError::Trashed);
        }
        Ok(draft)
    }

    /// Records the course in the draft, unless it is there already, so that
    /// autosave goes on and the client learns the course id; counts a
    /// materialization.
    async fn attach(
        &self,
        owner: Owner,
        draft: &Draft,
        course: &Course,
        created: bool,
    ) -> Result<(), AppError> {
        Self::count_materialized(course, created);
        if draft.course_id == Some(course.id) && draft.status != DraftStatus::Open {
            return Ok(());
        }
        self.drafts.attach_course(owner, draft, course).await
    }

    fn count_materialized(course: &Course, created: bool) {
        if created {
            let trigger = course
                .materialized_by
                .map_or("unknown", MaterializedBy::as_str);
            metrics::counter!("draftd_materializations_total", "trigger" => trigger).increment(1);
        }
    }

    /// Makes sure the draft has a course row. `true` if this call created it.
    pub async fn materialize(
        &self,
        owner: Owner,
        draft_id: DraftId,
    ) -> Result<(CourseRef, bool), AppError> {
        let draft = self.changeable_draft(owner, draft_id).await?;
        let new = new_course(owner, &draft, MaterializedBy::Materialize);
        let (course, created) = self.courses.materialize(&new).await??;
        if course.is_trashed() {
            return Err(AppError::Trashed);
        }
        self.attach(owner, &draft, &course, created).await?;
        Ok(((&course).into(), created))
    }

    /// Validates the form strictly, then makes the draft's course and marks it
    /// submitted with the final data. Repeating it returns the same course.
    ///
    /// The draft is frozen first, at the version that passed validation: an
    /// autosave acknowledged before the freeze is in the course, one after it
    /// is refused. A freeze that lost a race with an autosave starts over.
    /// Submit's strict check alone (`?dryRun=true`): refuses what a submit
    /// now would refuse, and changes nothing, so a page can show every
    /// field's error at once without risking the course.
    pub async fn check_submit(&self, owner: Owner, draft_id: DraftId) -> Result<(), AppError> {
        let draft = self.changeable_draft(owner, draft_id).await?;
        SubmittedForm::parse(&draft.form_data).map_err(AppError::Invalid)?;
        Ok(())
    }

    pub async fn submit(
        &self,
        owner: Owner,
        draft_id: DraftId,
    ) -> Result<(CourseRef, bool), AppError> {
        self.limits.writes.count(owner).await?;
        for _ in 0..SUBMIT_ATTEMPTS {
            let draft = self.changeable_draft(owner, draft_id).await?;
            let form = SubmittedForm::parse(&draft.form_data).map_err(AppError::Invalid)?;
            if !self.drafts.freeze(owner, &draft).await? {
                continue;
            }
            let mut new = new_course(owner, &draft, MaterializedBy::Submit);
            new.title = form.topic.as_str();
            new.form_data = &form.data;
            let submitted = match self.courses.submit(&new).await {
                // Refused for good (not an outage): the draft must not stay
                // frozen with no course, or the user could never edit it again.
                Err(e) if !e.is_unavailable() => {
                    if let Err(thaw) = self.drafts.thaw(owner, &draft).await {
                        tracing::error!(draft = %draft.id, error = %thaw, "could not thaw a draft");
                    }
                    return Err(e.into());
                }
                other => other?,
            };
            match submitted {
                SubmitOutcome::Submitted(course, created) => {
                    Self::count_materialized(&course, created);
                    // Always, even when the draft had its course already: the
                    // frozen draft then lives on only briefly.
                    self.drafts.attach_course(owner, &draft, &course).await?;
                    return Ok(((&*course).into(), created));
                }
                SubmitOutcome::Changed => continue,
                SubmitOutcome::Trashed => {
                    self.drafts.thaw(owner, &draft).await?;
                    return Err(AppError::Trashed);
                }
                // Nothing to thaw: the draft is gone, or its subject erased.
                SubmitOutcome::Fenced(fence) => return Err(fence.into()),
            }
        }
        Err(AppError::Busy)
    }

    /// The caller's course with its files.
    pub async fn course(
        &self,
        owner: Owner,
        course_id: CourseId,
    ) -> Result<CourseWithFiles, AppError> {
        let course = self
            .courses
            .find(owner, course_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let files = self.file_rows.list(owner, course_id).await?;
        Ok(CourseWithFiles { course, files })
    }

    /// The files of the draft's course; none before it has one.
    pub async fn draft_files(
        &self,
        owner: Owner,
        draft_id: DraftId,
    ) -> Result<Vec<CourseFile>, AppError> {
        match self.draft(owner, draft_id).await?.course_id {
            Some(course_id) => Ok(self.file_rows.list(owner, course_id).await?),
            None => Ok(Vec::new()),
        }
    }

    /// Removes one file of the draft's course: the row goes, and its bytes are
    /// queued as a cleanup job in the same transaction.
    pub async fn delete_draft_file(
        &self,
        owner: Owner,
        draft_id: DraftId,
        file_id: FileId,
    ) -> Result<(), AppError> {
        self.limits.writes.count(owner).await?;
        let course_id = self
            .changeable_draft(owner, draft_id)
            .await?
            .course_id
            .ok_or(AppError::NotFound)?;
        if !self.file_rows.delete(owner, course_id, file_id).await? {
            return Err(AppError::NotFound);
        }
        self.cleanup.wake.wake();
        Ok(())
    }

    /// A page of the caller's courses, or of the trash.
    pub async fn list(
        &self,
        owner: Owner,
        list: CourseList,
        page: PageRequest,
    ) -> Result<Page<CourseSummary>, AppError> {
        Ok(self.courses.list(owner, list, page).await?)
    }

    async fn with_files(&self, owner: Owner, course: Course) -> Result<CourseWithFiles, AppError> {
        let files = self.file_rows.list(owner, course.id).await?;
        Ok(CourseWithFiles { course, files })
    }

    /// A file of the caller's course, with its bytes.
    pub async fn download(
        &self,
        owner: Owner,
        course_id: CourseId,
        file_id: FileId,
    ) -> Result<(CourseFile, BoxStream<'static, Result<Bytes, StoreError>>), AppError> {
        let file = self
            .file_rows
            .find(owner, course_id, file_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let bytes = self.files.open(&file.storage_key).await?;
        Ok((file, bytes))
    }
}
