-- Degraded mode: a draft kept in its course row has `updated_at` as its TTL
-- clock (the janitor's too), which every write moves. A write that leaves the
-- draft as it was (an autosave that changes nothing, a tus PATCH keeping the
-- draft alive) keeps the draft's updatedAt here, while `updated_at` moves;
-- NULL when the two are the same (the last write changed the draft), and on
-- every row that holds no draft. (V14, not V13: main has V13 already.)
ALTER TABLE courses ADD COLUMN draft_updated_at timestamptz;
