-- Deletes a draft and its entry in the owner's index. Returns 1 if it existed.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id ('' for any: the cleanup worker's)
if ARGV[2] ~= '' and redis.call('HGET', KEYS[1], 'org') ~= ARGV[2] then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
