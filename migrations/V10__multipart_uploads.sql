-- S3 multipart uploads in progress, recorded before their first part: what a
-- process killed mid-upload leaves, for the orphan sweep to abort.
CREATE TABLE multipart_uploads (
    storage_key text        NOT NULL,
    upload_id   text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (storage_key, upload_id)
);
CREATE INDEX multipart_uploads_started_idx ON multipart_uploads (started_at);
