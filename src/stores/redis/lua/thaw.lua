-- Undoes submit's freeze when the submit failed for good (not for an outage):
-- the draft, frozen at the validated version, is editable again and back in
-- its owner's list, until the expiry it had.
-- Uses: owned_draft, write_draft.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the version it was frozen at
-- Answers 1 if it thawed the draft, else 0.
local draft_key, index_key = KEYS[1], KEYS[2]
local id, org, frozen_at = ARGV[1], ARGV[2], ARGV[3]

local draft = owned_draft(draft_key, org)
if not draft or draft.st ~= 'submitted' or draft.v ~= frozen_at then
  return 0
end
draft.st = 'open'
if draft.cid ~= '-' then
  draft.st = 'materialized'
end
-- The entry back at the draft's expiry, and the record saying so (`ix`).
draft.ix = draft.ea
write_draft(draft_key, draft, 'PXAT', draft.ea)
redis.call('ZADD', index_key, draft.ea, id)
return 1
