//! The rows of courses' files. A file row is written in the transaction that
//! makes sure its course exists, so the first upload materializes the draft.

use uuid::Uuid;

use super::cleanup::delete_file;
use super::courses::insert_or_get;
use super::rows::{file_from, FILE_COLUMNS};
use super::Postgres;
use crate::domain::course::{NewCourse, NewFile};
use crate::domain::{Course, CourseFile, Owner, StoreError};

#[derive(Clone)]
pub struct PgFiles {
    db: Postgres,
}

impl PgFiles {
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Makes sure the draft's course exists and records a file in it, atomically.
    pub async fn materialize_with_file(
        &self,
        new: &NewCourse<'_>,
        file: &NewFile<'_>,
    ) -> Result<(Course, CourseFile, bool), StoreError> {
        self.db
            .call(|mut client| async move {
                let tx = client.transaction().await?;
                let (course, created) = insert_or_get(&tx, new).await?;
                let row = tx
                    .query_one(
                        &format!(
                            "INSERT INTO course_files (id, course_id, storage_key, original_name, \
                             content_type, size_bytes, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                             RETURNING {FILE_COLUMNS}"
                        ),
                        &[
                            &file.id,
                            &course.id,
                            &file.storage_key,
                            &file.original_name,
                            &file.content_type,
                            &file.size_bytes,
                            &file.sha256,
                        ],
                    )
                    .await?;
                tx.execute(
                    "UPDATE courses SET updated_at = now() WHERE id = $1",
                    &[&course.id],
                )
                .await?;
                tx.commit().await?;
                Ok((course, file_from(&row)?, created))
            })
            .await
    }

    /// The files of the owner's course, oldest first.
    pub async fn list(&self, owner: Owner, course_id: Uuid) -> Result<Vec<CourseFile>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        &format!(
                            "SELECT {FILE_COLUMNS} FROM course_files f WHERE course_id = $1 \
                             AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $1 AND c.owner_id = $2 \
                                 AND c.organization_id = $3) \
                             ORDER BY created_at, id"
                        ),
                        &[&course_id, &owner.user_id, &owner.organization_id],
                    )
                    .await?;
                rows.iter().map(file_from).collect()
            })
            .await
    }

    /// One file of the owner's course.
    pub async fn find(
        &self,
        owner: Owner,
        course_id: Uuid,
        file_id: Uuid,
    ) -> Result<Option<CourseFile>, StoreError> {
        self.db
            .call(|client| async move {
                let row = client
                    .query_opt(
                        &format!(
                            "SELECT {FILE_COLUMNS} FROM course_files f \
                             WHERE id = $1 AND course_id = $2 \
                             AND EXISTS (SELECT 1 FROM courses c WHERE c.id = $2 AND c.owner_id = $3 \
                                 AND c.organization_id = $4)"
                        ),
                        &[&file_id, &course_id, &owner.user_id, &owner.organization_id],
                    )
                    .await?;
                row.as_ref().map(file_from).transpose()
            })
            .await
    }

    /// Deletes one file's row and queues its bytes for removal, atomically.
    pub async fn delete(
        &self,
        owner: Owner,
        course_id: Uuid,
        file_id: Uuid,
        max_attempts: i32,
    ) -> Result<bool, StoreError> {
        self.db
            .call(|client| async move {
                delete_file(&client, owner, course_id, file_id, max_attempts).await
            })
            .await
    }

    /// Of these storage keys, the ones a file row still references.
    pub async fn referenced_keys(&self, keys: &[String]) -> Result<Vec<String>, StoreError> {
        self.db
            .call(|client| async move {
                let rows = client
                    .query(
                        "SELECT storage_key FROM course_files WHERE storage_key = ANY($1)",
                        &[&keys],
                    )
                    .await?;
                rows.iter()
                    .map(|row| row.try_get(0).map_err(StoreError::from))
                    .collect()
            })
            .await
    }
}
