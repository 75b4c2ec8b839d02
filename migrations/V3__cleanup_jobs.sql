-- What must be removed outside Postgres once a course row is gone: recorded in
-- the transaction that deletes the row, carried out by the cleanup worker.
CREATE TABLE cleanup_jobs (
    id           bigserial   PRIMARY KEY,
    -- storage_prefix: every unreferenced object under {orgId}/{courseId}/
    -- storage_object: one object, unless a file row references it again
    -- draft_session:  a draft's Redis keys ({userId}:{draftId})
    kind         text        NOT NULL
                             CHECK (kind IN ('storage_prefix', 'storage_object', 'draft_session')),
    target       text        NOT NULL,
    course_id    uuid        NOT NULL,
    -- Who asked: owner, discard, janitor, file.
    reason       text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dead')),
    attempts     integer     NOT NULL DEFAULT 0,
    max_attempts integer     NOT NULL,
    run_after    timestamptz NOT NULL DEFAULT now(),
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The worker's queue: due pending jobs, oldest first.
CREATE INDEX cleanup_jobs_due_idx ON cleanup_jobs (run_after) WHERE status = 'pending';
CREATE INDEX cleanup_jobs_dead_idx ON cleanup_jobs (updated_at) WHERE status = 'dead';
