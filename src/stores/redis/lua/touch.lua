-- Keeps a draft alive without changing it (a resumable upload's PATCH): its
-- TTL and its entry in the owner's index move to ARGV[3] ms from now, and so
-- does its expiresAt; its version and updatedAt stay.
-- Uses: owned_draft, now_ms, write_draft, keep_alive.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] TTL in ms
-- Answers 1 if the draft is there (and not submitted), else 0.
local draft_key, index_key = KEYS[1], KEYS[2]
local id, org, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local draft = owned_draft(draft_key, org)
if not draft or draft.st == 'submitted' then
  return 0
end
local expires = now_ms() + ttl
draft.ea = expires
draft.ix = string.format('%d', keep_alive(index_key, id, ttl, expires, tonumber(draft.ix)))
write_draft(draft_key, draft, 'PX', ttl)
return 1
