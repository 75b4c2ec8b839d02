-- Records the course a draft became; an open draft becomes materialized. A
-- submitted draft's session is kept at most ARGV[5] ms from now: it only has
-- to tell the form's other tabs that it was submitted.
-- KEYS[1] the draft, KEYS[2] the owner's index (unused: it names the slot)
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] course id, ARGV[4] course
-- slug, ARGV[5] the submitted session's TTL in ms
if redis.call('HGET', KEYS[1], 'org') ~= ARGV[2] then
  return 0
end
local status = redis.call('HGET', KEYS[1], 'st')
if status == 'open' then
  status = 'materialized'
end
redis.call('HSET', KEYS[1], 'cid', ARGV[3], 'cslug', ARGV[4], 'st', status)
if status == 'submitted' and redis.call('PTTL', KEYS[1]) > tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
