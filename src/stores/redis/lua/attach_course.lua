-- Records the course a draft became; an open draft becomes materialized. A
-- submitted draft's session is kept at most ARGV[5] ms from now: it only has
-- to tell the form's other tabs that it was submitted. Announces on the
-- draft's events channel a draft that just became materialized, and a
-- submitted one (submit's last step: its course row is submitted).
-- KEYS[1] the draft, KEYS[2] the owner's index (unused: it names the slot),
-- KEYS[3] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] course id, ARGV[4] course
-- slug, ARGV[5] the submitted session's TTL in ms
local state = redis.call('HMGET', KEYS[1], 'org', 'st', 'v')
if state[1] ~= ARGV[2] then
  return 0
end
local status = state[2]
local version = state[3]
if status == 'open' then
  status = 'materialized'
  publish(KEYS[3], '{"type":"materialized","version":' .. version .. ',"courseId":"' .. ARGV[3]
    .. '","courseSlug":"' .. ARGV[4] .. '"}')
end
redis.call('HSET', KEYS[1], 'cid', ARGV[3], 'cslug', ARGV[4], 'st', status)
if status == 'submitted' then
  if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[5]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
  end
  publish(KEYS[3], '{"type":"submitted","version":' .. version .. ',"courseId":"' .. ARGV[3] .. '"}')
end
return 1
