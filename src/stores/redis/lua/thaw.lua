-- Undoes submit's freeze when the submit failed for good (not for an outage):
-- the draft, frozen at the validated version, is editable again and back in
-- its owner's list, until the expiry it had.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] the version it was frozen at
if redis.call('HGET', KEYS[1], 'org') ~= ARGV[2] then
  return 0
end
if redis.call('HGET', KEYS[1], 'st') ~= 'submitted' or redis.call('HGET', KEYS[1], 'v') ~= ARGV[3] then
  return 0
end
local status = 'open'
if redis.call('HEXISTS', KEYS[1], 'cid') == 1 then
  status = 'materialized'
end
redis.call('HSET', KEYS[1], 'st', status)
local expires = redis.call('HGET', KEYS[1], 'ea')
redis.call('ZADD', KEYS[2], expires, ARGV[1])
redis.call('PEXPIREAT', KEYS[1], expires)
return 1
