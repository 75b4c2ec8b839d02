-- Deletes a draft and its entry in the owner's index, and announces it on
-- the draft's events channel.
-- An owner's discard also leaves a tombstone, the organization's id, for
-- ARGV[3] ms, so that the owner is told "discarded" rather than "not found":
-- when the draft was the owner's, or when ARGV[4] is '1' (the discard erased
-- the draft's course, and the cleanup worker it woke may have removed the
-- draft first).
-- Uses: owned_draft, publish.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- draft's events channel, KEYS[4] the draft's tombstone
-- ARGV[1] draft id, ARGV[2] organization id ('' for any: the cleanup worker's),
-- ARGV[3] the tombstone's TTL in ms ('' for none), ARGV[4] '1' to leave it
-- even if the draft is gone
-- Answers 1 if the draft existed (and was the organization's), else 0.
local draft_key, index_key, channel, tombstone_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, org, tombstone_ttl, course_deleted = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'

local owned = true
if org ~= '' then
  owned = owned_draft(draft_key, org) ~= nil
end
if tombstone_ttl ~= '' and (owned or course_deleted) then
  redis.call('SET', tombstone_key, org, 'PX', tombstone_ttl)
end
if not owned then
  return 0
end
redis.call('ZREM', index_key, id)
local deleted = redis.call('DEL', draft_key)
if deleted == 1 then
  publish(channel, '{"type":"discarded"}')
end
return deleted
