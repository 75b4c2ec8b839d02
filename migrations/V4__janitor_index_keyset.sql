-- The janitor pages through its candidates by (updated_at, id). With the id in
-- the partial index, each batch is one index range scan, with no sort of rows
-- that share a timestamp.
DROP INDEX courses_unused_drafts_idx;
CREATE INDEX courses_unused_drafts_idx ON courses (updated_at, id)
    WHERE status = 'draft' AND generation_status IS NULL;
