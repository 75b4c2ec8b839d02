-- The trash: a course its owner deleted keeps its row, its file rows and its
-- stored files until purge_at, restorable until then; the daily purge erases
-- it after. Both columns are set together, or neither.
ALTER TABLE courses
    ADD COLUMN trashed_at timestamptz,
    ADD COLUMN purge_at   timestamptz,
    ADD CONSTRAINT courses_trash_check CHECK ((trashed_at IS NULL) = (purge_at IS NULL));

-- The owner's lists, newest first, one keyset range scan per page: the courses
-- by creation, the trash by deletion.
DROP INDEX courses_owner_idx;
CREATE INDEX courses_owner_list_idx ON courses (owner_id, organization_id, created_at DESC, id DESC)
    WHERE trashed_at IS NULL;
CREATE INDEX courses_owner_trash_idx ON courses (owner_id, organization_id, trashed_at DESC, id DESC)
    WHERE trashed_at IS NOT NULL;

-- The purge's candidates, those due first.
CREATE INDEX courses_purge_idx ON courses (purge_at, id) WHERE purge_at IS NOT NULL;
