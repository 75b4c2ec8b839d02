-- The owner's live draft ids, most recently written first; forgets expired ones.
-- KEYS[1] the owner's index of live drafts
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZREVRANGE', KEYS[1], 0, -1)
