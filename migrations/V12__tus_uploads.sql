-- Resumable (tus) uploads: an upload's offset, its running checksum and
-- content check, and where its bytes are, so that it survives a restart.
-- `reserved_bytes` holds its size against the organization's quota (and one
-- file against its course's) from creation until it finishes or expires.
CREATE TABLE tus_uploads (
    id               uuid        PRIMARY KEY,
    draft_session_id uuid        NOT NULL,
    owner_id         uuid        NOT NULL,
    organization_id  uuid        NOT NULL,
    -- The course the file goes to: known at creation (derived from the draft).
    course_id        uuid        NOT NULL,
    -- The file it becomes, and its key: {orgId}/{courseId}/{fileId}.
    file_id          uuid        NOT NULL,
    storage_key      text        NOT NULL,
    original_name    text        NOT NULL,
    content_type     text        NOT NULL,
    upload_length    bigint      NOT NULL CHECK (upload_length > 0),
    upload_offset    bigint      NOT NULL DEFAULT 0
                     CHECK (upload_offset BETWEEN 0 AND upload_length),
    -- 'receiving', then 'finished' once its file row exists.
    status           text        NOT NULL DEFAULT 'receiving',
    -- SHA-256 state (sha2's serialized state) and the content check, both
    -- over the bytes up to upload_offset.
    sha256_state     bytea       NOT NULL,
    content_check    jsonb       NOT NULL,
    -- Local: the staging file, relative to the storage root.
    staging_path     text,
    -- S3: the multipart upload (also in multipart_uploads), its parts
    -- ([{"number", "etag"}]) and the bytes after them kept in tail_key.
    s3_upload_id     text,
    s3_parts         jsonb       NOT NULL DEFAULT '[]',
    tail_key         text,
    tail_bytes       bigint      NOT NULL DEFAULT 0,
    reserved_bytes   bigint      NOT NULL,
    -- A PATCH holds the upload while it streams; a dead holder's lease lapses.
    lease_id         uuid,
    lease_until      timestamptz,
    expires_at       timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tus_uploads_expires_idx ON tus_uploads (expires_at);
CREATE INDEX tus_uploads_organization_idx ON tus_uploads (organization_id)
    WHERE status = 'receiving';
CREATE INDEX tus_uploads_course_idx ON tus_uploads (course_id);
CREATE INDEX tus_uploads_draft_idx ON tus_uploads (draft_session_id);
CREATE INDEX tus_uploads_s3_idx ON tus_uploads (s3_upload_id) WHERE s3_upload_id IS NOT NULL;
