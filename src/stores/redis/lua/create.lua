-- Opens a draft session, unless its owner already has the maximum of live ones.
-- Answers {'ok', the draft's record} or {'full'}.
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

local draft = {org = ARGV[2], v = 1, st = 'open', ca = now, ua = now, ea = expires, tr = '0',
  cid = '-', cslug = '-', body = ''}
for i = 5, #ARGV, 2 do
  set_field(draft, ARGV[i], ARGV[i + 1])
end
local record = write_draft(KEYS[1], draft, 'PX', ttl)
keep_alive(ttl, expires)
return {'ok', record}
