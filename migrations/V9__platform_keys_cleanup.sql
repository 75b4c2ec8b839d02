-- redis_keys: the platform's Redis keys of an erased course, found by the
-- operator's patterns (DRAFTD_CLEANUP_REDIS_PATTERNS); target
-- {orgId}:{userId}:{courseId}.
ALTER TABLE cleanup_jobs DROP CONSTRAINT cleanup_jobs_kind_check;
ALTER TABLE cleanup_jobs ADD CONSTRAINT cleanup_jobs_kind_check
    CHECK (kind IN ('storage_prefix', 'storage_object', 'draft_session', 'redis_keys'));
