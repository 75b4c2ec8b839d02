-- Keeps a draft alive without changing it (a resumable upload's PATCH): its
-- TTL and its entry in the owner's index move to ARGV[3] ms from now, and so
-- does its expiresAt; its version and updatedAt stay.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] TTL in ms
local draft = read_draft(KEYS[1])
if not draft or draft.org ~= ARGV[2] or draft.st == 'submitted' then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
local expires = now + ttl
draft.ea = expires
write_draft(KEYS[1], draft, 'PX', ttl)
redis.call('ZADD', KEYS[2], expires, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
