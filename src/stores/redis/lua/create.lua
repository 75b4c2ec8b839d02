-- Opens a draft session, unless its owner already has the maximum of live ones.
-- Uses: now_ms, set_field, write_draft, keep_alive.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts (score: expiry, ms,
-- up to keep_alive's slack ahead: the cap counts a draft gone less than that ago),
-- KEYS[3] (optional) the create's idempotency key
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] TTL in ms, ARGV[4] maximum
-- of live drafts, ARGV[5] a draft id the idempotency key may be taken from (its
-- draft expired) or '', ARGV[6..] field and JSON value pairs of the initial form
-- Answers {'created', the draft's record}, {'full'}, or, when the create's
-- idempotency key already names a draft, {'exists', that draft's id}.
local draft_key, index_key, idempotency_key = KEYS[1], KEYS[2], KEYS[3]
local id, org, ttl, max_drafts, replaces = ARGV[1], ARGV[2], tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5]
local first_field = 6

local now = now_ms()
local expires = now + ttl

if idempotency_key then
  local named = redis.call('GET', idempotency_key)
  if named and named ~= replaces then
    return {'exists', named}
  end
end

redis.call('ZREMRANGEBYSCORE', index_key, '-inf', now)
if redis.call('ZCARD', index_key) >= max_drafts then
  return {'full'}
end

local draft = {org = org, v = 1, st = 'open', ca = now, ua = now, ea = expires, tr = '0',
  cid = '-', cslug = '-', body = ''}
for i = first_field, #ARGV, 2 do
  set_field(draft, ARGV[i], ARGV[i + 1])
end
draft.ix = string.format('%d', keep_alive(index_key, id, ttl, expires))
local record = write_draft(draft_key, draft, 'PX', ttl)
if idempotency_key then
  redis.call('SET', idempotency_key, id, 'PX', ttl)
end
return {'created', record}
