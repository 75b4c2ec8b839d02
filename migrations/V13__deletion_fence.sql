-- The deletion fence (SPEC invariant 13). A tombstone is written in the
-- transaction that erases a course (or discards a draft that has no course
-- yet); every transaction that records something of a course (materialize,
-- submit, an upload's file, a tus upload's finish) reads it under the
-- course's fence lock (an advisory lock the deletion holds exclusively), so
-- a write in flight across a deletion either commits before it, and is
-- erased with the course, or sees the tombstone and records nothing.
-- Ids only: nothing personal is kept. Pruned by the janitor once older than
-- the draft TTL and no cleanup job of the course is left (until then its
-- draft session may still name the course).
CREATE TABLE course_tombstones (
    course_id uuid        PRIMARY KEY,
    -- Why it went (a cleanup_jobs reason): a discard answers the draft's
    -- owner "discarded", any other deletion "deleted".
    reason    text        NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX course_tombstones_erased_idx ON course_tombstones (erased_at);

-- Erased subjects are looked up by subject at every recording.
CREATE INDEX erasures_subject_idx ON erasures (subject_id, scope);

-- The fence's check of the subject's erasures, in every recording, replaces
-- the trigger that refused a course row while an erase ran: one rule, one
-- place, and a refusal the service answers as the erase's 403.
DROP TRIGGER courses_refused_while_erasing ON courses;
DROP FUNCTION refuse_course_while_erasing();
