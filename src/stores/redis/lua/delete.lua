-- Deletes a draft and its entry in the owner's index, and announces it on
-- the draft's events channel. Returns 1 if it existed.
-- An owner's discard also leaves a tombstone, the organization's id, for
-- ARGV[3] ms, so that the owner is told "discarded" rather than "not found":
-- when the draft was the owner's, or when ARGV[4] is '1' (the discard erased
-- the draft's course, and the cleanup worker it woke may have removed the
-- draft first).
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- draft's events channel, KEYS[4] the draft's tombstone
-- ARGV[1] draft id, ARGV[2] organization id ('' for any: the cleanup worker's),
-- ARGV[3] the tombstone's TTL in ms ('' for none), ARGV[4] '1' to leave it
-- even if the draft is gone
local owned = true
if ARGV[2] ~= '' then
  local draft = read_draft(KEYS[1])
  owned = draft ~= nil and draft.org == ARGV[2]
end
if ARGV[3] ~= '' and (owned or ARGV[4] == '1') then
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ARGV[3])
end
if not owned then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
local deleted = redis.call('DEL', KEYS[1])
if deleted == 1 then
  publish(KEYS[3], '{"type":"discarded"}')
end
return deleted
