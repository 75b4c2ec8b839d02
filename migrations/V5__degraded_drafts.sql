-- Degraded mode: a draft opened while Redis was unreachable lives in a course row
-- of its own, for its whole life. draft_version is that draft's version; NULL on
-- every other row (a course whose draft session is, or was, in Redis).
ALTER TABLE courses ADD COLUMN draft_version bigint;

ALTER TABLE courses DROP CONSTRAINT courses_materialized_by_check;
ALTER TABLE courses ADD CONSTRAINT courses_materialized_by_check
    CHECK (materialized_by IN ('submit', 'upload', 'materialize', 'degraded'));
