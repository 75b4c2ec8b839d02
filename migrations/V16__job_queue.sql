-- One typed job queue for every task: the cleanup steps a deletion records
-- and the webhook deliveries of lifecycle events. The expand step of an
-- expand-then-contract change: cleanup_jobs and webhook_events stay, readable
-- and settable, while replicas of the previous version run; the new version
-- moves their rows here as they fall due (stores/postgres/queue/legacy.rs),
-- and a later migration drops them (docs/operations.md, "Upgrading").

-- One sequence for the three tables: an old replica's event, drawn under its
-- course row's lock, is numbered in commit order with a new replica's, and
-- keeps its number when moved here, so a course's events stay in order.
CREATE SEQUENCE jobs_id_seq;
SELECT setval('jobs_id_seq', greatest(
    (SELECT max(id) FROM webhook_events), (SELECT max(id) FROM cleanup_jobs), 0) + 1, false);
ALTER TABLE webhook_events ALTER COLUMN id SET DEFAULT nextval('jobs_id_seq');
ALTER TABLE cleanup_jobs ALTER COLUMN id SET DEFAULT nextval('jobs_id_seq');

CREATE TABLE jobs (
    id           bigint      PRIMARY KEY DEFAULT nextval('jobs_id_seq'),
    -- The task type (jobs/queue: Task::NAME), e.g. cleanup.storage_prefix,
    -- webhook.delivery.
    task         text        NOT NULL,
    -- The task's own fields, as its Rust type serializes them.
    payload      jsonb       NOT NULL,
    -- The course the job is about: an erase counts its subject's jobs by it,
    -- and a tombstone stays while its course has jobs.
    course_id    uuid        NOT NULL,
    -- Jobs sharing a key run one at a time, in id order: a course's webhook
    -- deliveries. NULL: no order.
    ordering_key uuid,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'done', 'dead')),
    -- Attempts so far; the claim counts one.
    attempts     integer     NOT NULL DEFAULT 0,
    -- Due time of a pending job; while an attempt runs, the end of its lease.
    run_after    timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- When it was done (kept only by tasks whose done jobs are kept a while).
    finished_at  timestamptz
);
ALTER SEQUENCE jobs_id_seq OWNED BY jobs.id;

-- The runner's claim: a task's due jobs.
CREATE INDEX jobs_due_idx ON jobs (task, run_after, id) WHERE status = 'pending';
-- Is a job its key's first unfinished one?
CREATE INDEX jobs_order_idx ON jobs (ordering_key, id)
    WHERE status <> 'done' AND ordering_key IS NOT NULL;
-- A course's unfinished jobs (erase counts, tombstone pruning).
CREATE INDEX jobs_course_idx ON jobs (course_id) WHERE status <> 'done';
CREATE INDEX jobs_dead_idx ON jobs (task, updated_at) WHERE status = 'dead';
CREATE INDEX jobs_done_idx ON jobs (finished_at) WHERE status = 'done';
-- GET /api/v1/admin/webhooks/events/{id}: an event by its webhook-id.
CREATE UNIQUE INDEX jobs_webhook_id_idx ON jobs ((payload->>'webhookId'))
    WHERE task = 'webhook.delivery';

-- Every attempt of a job (the newest 20), as an operator reads them: when,
-- how long, the receiver's status or the error. They go with their job.
CREATE TABLE job_attempts (
    id          bigserial   PRIMARY KEY,
    job_id      bigint      NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    -- The job's attempt count at the time (a redrive starts it again).
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer     NOT NULL,
    -- The receiver's HTTP status, when there was one.
    status      smallint,
    -- Why it failed; NULL: it succeeded.
    error       text
);
CREATE INDEX job_attempts_job_idx ON job_attempts (job_id, id);
