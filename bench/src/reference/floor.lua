-- The floor of an autosave's time in Redis: the commands a save needs, with
-- no Lua work on the record. It writes back the record it reads, as it is.
-- Called with the autosave's own KEYS and ARGV (patch.lua's header), so that
-- both sides receive the same arguments; it reads the ones it needs.
-- KEYS[1] the draft, KEYS[2] the owner's index, KEYS[3] the owner's autosave
-- counter, KEYS[4] the draft's events channel; ARGV[1] draft id, ARGV[3] TTL
-- in ms, ARGV[6] the rate window in ms, ARGV[7] the merge patch (published).
local count = redis.call('INCR', KEYS[3])
if count == 1 then
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
local record = redis.call('GET', KEYS[1])
local time = redis.call('TIME')
local ttl = tonumber(ARGV[3])
local expires = tonumber(time[1]) * 1000 + ttl
redis.call('SET', KEYS[1], record, 'PX', ttl)
redis.call('ZADD', KEYS[2], expires, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PUBLISH', KEYS[4], ARGV[7])
return {'saved', count}
