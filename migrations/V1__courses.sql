-- A course row exists only once a draft becomes real (submit or first upload),
-- or, in degraded mode, when Redis was unreachable as the form opened.
CREATE TABLE courses (
    id                uuid        PRIMARY KEY,
    -- The guard of "one draft session yields at most one course row".
    draft_session_id  uuid        UNIQUE,
    owner_id          uuid        NOT NULL,
    organization_id   uuid        NOT NULL,
    slug              text        NOT NULL UNIQUE,
    title             text        NOT NULL,
    status            text        NOT NULL DEFAULT 'draft'
                                  CHECK (status IN ('draft', 'submitted')),
    -- Set by the course generator once it starts; NULL means never used.
    generation_status text,
    form_data         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- Last activity: the janitor's staleness clock.
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX courses_owner_idx ON courses (owner_id, created_at DESC);

-- The janitor's candidates: unused drafts, oldest activity first. Partial, so it
-- stays as small as the garbage it finds.
CREATE INDEX courses_unused_drafts_idx ON courses (updated_at)
    WHERE status = 'draft' AND generation_status IS NULL;
