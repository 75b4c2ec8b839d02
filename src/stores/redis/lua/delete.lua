-- Deletes a draft and its entry in the owner's index, and announces it on
-- the draft's events channel. Returns 1 if it existed.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id ('' for any: the cleanup worker's)
if ARGV[2] ~= '' then
  local draft = read_draft(KEYS[1])
  if not draft or draft.org ~= ARGV[2] then
    return 0
  end
end
redis.call('ZREM', KEYS[2], ARGV[1])
local deleted = redis.call('DEL', KEYS[1])
if deleted == 1 then
  publish(KEYS[3], '{"type":"discarded"}')
end
return deleted
