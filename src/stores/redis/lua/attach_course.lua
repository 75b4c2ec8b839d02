-- Records the course a draft became; an open draft becomes materialized.
-- KEYS[1] the draft; ARGV[1] course id, ARGV[2] course slug
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local status = redis.call('HGET', KEYS[1], 'st')
if status == 'open' then
  status = 'materialized'
end
redis.call('HSET', KEYS[1], 'cid', ARGV[1], 'cslug', ARGV[2], 'st', status)
return 1
