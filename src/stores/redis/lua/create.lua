-- Opens a draft session, unless its owner already has the maximum of live ones.
-- Answers {'ok', the draft's record}, {'full'}, or, when the create's
-- idempotency key already names a draft, {'exists', that draft's id}.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts (score: expiry, ms),
-- KEYS[3] (optional) the create's idempotency key
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] TTL in ms, ARGV[4] maximum
-- of live drafts, ARGV[5] a draft id the idempotency key may be taken from (its
-- draft expired) or '', ARGV[6..] field and JSON value pairs of the initial form
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
local expires = now + ttl

if KEYS[3] then
  local named = redis.call('GET', KEYS[3])
  if named and named ~= ARGV[5] then
    return {'exists', named}
  end
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return {'full'}
end

local draft = {org = ARGV[2], v = 1, st = 'open', ca = now, ua = now, ea = expires, tr = '0',
  cid = '-', cslug = '-', body = ''}
for i = 6, #ARGV, 2 do
  set_field(draft, ARGV[i], ARGV[i + 1])
end
local record = write_draft(KEYS[1], draft, 'PX', ttl)
if KEYS[3] then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ttl)
end
keep_alive(ttl, expires)
return {'ok', record}
