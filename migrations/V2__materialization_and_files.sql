-- What made a draft real, and when; the files uploaded to a course.
ALTER TABLE courses
    ADD COLUMN materialized_by text
        CHECK (materialized_by IN ('submit', 'upload', 'materialize')),
    ADD COLUMN materialized_at timestamptz,
    ADD COLUMN submitted_at    timestamptz;

CREATE TABLE course_files (
    id            uuid        PRIMARY KEY,
    course_id     uuid        NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    -- Where the bytes are, relative to the storage root: {orgId}/{courseId}/{fileId}.
    storage_key   text        NOT NULL UNIQUE,
    -- As the client named it; metadata only, never a path.
    original_name text        NOT NULL,
    content_type  text        NOT NULL,
    size_bytes    bigint      NOT NULL CHECK (size_bytes > 0),
    sha256        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX course_files_course_idx ON course_files (course_id, created_at);
