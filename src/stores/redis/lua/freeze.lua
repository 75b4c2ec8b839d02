-- Submit's first step: marks the draft submitted, if it is still at the version
-- that passed validation. From then on autosaves are refused; the draft leaves
-- its owner's list of live drafts and keeps its key, read-only, until its TTL.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the validated version
if redis.call('HGET', KEYS[1], 'org') ~= ARGV[2] then
  return 'missing'
end
if redis.call('HGET', KEYS[1], 'st') == 'submitted' then
  return 'submitted'
end
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[3] then
  return 'changed'
end
redis.call('HSET', KEYS[1], 'st', 'submitted')
redis.call('ZREM', KEYS[2], ARGV[1])
return 'frozen'
