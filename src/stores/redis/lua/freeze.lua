-- Submit's first step: marks the draft submitted, if it is still at the version
-- that passed validation. From then on autosaves are refused; the draft leaves
-- its owner's list of live drafts and keeps its key, read-only, until its TTL.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the validated version
local draft = read_draft(KEYS[1])
if not draft or draft.org ~= ARGV[2] then
  return 'missing'
end
if draft.st == 'submitted' then
  return 'submitted'
end
if draft.v ~= ARGV[3] then
  return 'changed'
end
draft.st = 'submitted'
write_draft(KEYS[1], draft, 'KEEPTTL')
redis.call('ZREM', KEYS[2], ARGV[1])
return 'frozen'
