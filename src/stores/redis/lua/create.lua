-- Opens a draft session, unless its owner already has the maximum of live ones.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts (score: expiry, ms)
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] TTL in ms, ARGV[4] maximum
-- of live drafts, ARGV[5..] field and JSON value pairs of the initial form
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
local expires = now + ttl

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return {'full'}
end

local fields = {'org', ARGV[2], 'v', 1, 'st', 'open', 'ca', now, 'ua', now, 'ea', expires}
for i = 5, #ARGV, 2 do
  fields[#fields + 1] = 'f:' .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
return keep_alive_and_answer(ttl, expires)
