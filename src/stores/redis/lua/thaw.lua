-- Undoes submit's freeze when the submit failed for good (not for an outage):
-- the draft, frozen at the validated version, is editable again and back in
-- its owner's list, until the expiry it had.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the version it was frozen at
local draft = read_draft(KEYS[1])
if not draft or draft.org ~= ARGV[2] then
  return 0
end
if draft.st ~= 'submitted' or draft.v ~= ARGV[3] then
  return 0
end
draft.st = 'open'
if draft.cid ~= '-' then
  draft.st = 'materialized'
end
write_draft(KEYS[1], draft, 'PXAT', draft.ea)
redis.call('ZADD', KEYS[2], draft.ea, ARGV[1])
return 1
