-- The owner's live draft ids, most recently written first; forgets expired ones.
-- Uses: now_ms.
-- KEYS[1] the owner's index of live drafts
-- Answers the ids.
local index_key = KEYS[1]

redis.call('ZREMRANGEBYSCORE', index_key, '-inf', now_ms())
return redis.call('ZREVRANGE', index_key, 0, -1)
