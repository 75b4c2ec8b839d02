-- Submit's first step: marks the draft submitted, if it is still at the version
-- that passed validation. From then on autosaves are refused; the draft leaves
-- its owner's list of live drafts and keeps its key, read-only, until its TTL.
-- Uses: open_draft, write_draft.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the validated version
-- Answers {'frozen'}, {'submitted'} (already), {'changed'} (another version),
-- or {'missing'}.
local draft_key, index_key = KEYS[1], KEYS[2]
local id, org, validated = ARGV[1], ARGV[2], ARGV[3]

local draft, refused = open_draft(draft_key, org)
if not draft then
  return refused
end
if draft.v ~= validated then
  return {'changed'}
end
draft.st = 'submitted'
-- Its entry goes: the record no longer knows a score (`ix`).
draft.ix = '-'
write_draft(draft_key, draft, 'KEEPTTL')
redis.call('ZREM', index_key, id)
return {'frozen'}
