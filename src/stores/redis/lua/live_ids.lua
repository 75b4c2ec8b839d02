-- The owner's live draft ids, by score (the list orders them by updatedAt);
-- forgets the entries whose score has passed. An entry may outlive its draft
-- by keep_alive's slack: the list skips a draft whose record is gone.
-- Uses: now_ms.
-- KEYS[1] the owner's index of live drafts
-- Answers the ids.
local index_key = KEYS[1]

redis.call('ZREMRANGEBYSCORE', index_key, '-inf', now_ms())
return redis.call('ZREVRANGE', index_key, 0, -1)
