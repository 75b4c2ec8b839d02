-- Erasures of an organization or a user (an operator's full clean-up, a
-- data-subject erasure request). A row is the erase's durable state: a worker
-- killed mid-way leaves it 'running', and the next one resumes it.
CREATE TABLE erasures (
    id          uuid        PRIMARY KEY,
    scope       text        NOT NULL CHECK (scope IN ('organization', 'user')),
    subject_id  uuid        NOT NULL,
    status      text        NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'done', 'failed')),
    -- The counts before, taken once, so that a resumed erase reports them too.
    before      jsonb,
    -- Rows and keys removed so far, written in each batch's transaction.
    progress    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    report      jsonb,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- One running erase per subject: a second request joins it.
CREATE UNIQUE INDEX erasures_running_idx ON erasures (scope, subject_id)
    WHERE status = 'running';
-- Writes stay refused for an access token's lifetime after an erase ends.
CREATE INDEX erasures_finished_idx ON erasures (finished_at);

-- The courses an erase deleted, recorded in the deleting transaction: their
-- storage prefixes and cleanup jobs are checked once the rows are gone.
-- Removed when the erase finishes.
CREATE TABLE erased_courses (
    erasure_id      uuid NOT NULL REFERENCES erasures (id) ON DELETE CASCADE,
    course_id       uuid NOT NULL,
    organization_id uuid NOT NULL,
    PRIMARY KEY (erasure_id, course_id)
);

-- While an erase runs, no course row of its subject may appear, whichever
-- replica is asked: the replicas' in-process bar on writes can lag by a
-- second, and an upload accepted before it can still be streaming.
CREATE FUNCTION refuse_course_while_erasing() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM erasures WHERE status = 'running'
               AND ((scope = 'organization' AND subject_id = NEW.organization_id)
                 OR (scope = 'user' AND subject_id = NEW.owner_id))) THEN
        RAISE EXCEPTION 'the organization or user of course % is being erased', NEW.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER courses_refused_while_erasing BEFORE INSERT ON courses
    FOR EACH ROW EXECUTE FUNCTION refuse_course_while_erasing();
