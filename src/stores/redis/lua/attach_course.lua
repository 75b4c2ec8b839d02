-- Records the course a draft became; an open draft becomes materialized. A
-- submitted draft's session is kept at most ARGV[5] ms from now: it only has
-- to tell the form's other tabs that it was submitted. Announces on the
-- draft's events channel a draft that just became materialized, and a
-- submitted one (submit's last step: its course row is submitted).
-- KEYS[1] the draft, KEYS[2] the owner's index (unused: it names the slot),
-- KEYS[3] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] course id, ARGV[4] course
-- slug, ARGV[5] the submitted session's TTL in ms
local draft = read_draft(KEYS[1])
if not draft or draft.org ~= ARGV[2] then
  return 0
end
local version = draft.v
if draft.st == 'open' then
  draft.st = 'materialized'
  publish(KEYS[3], '{"type":"materialized","version":' .. version .. ',"courseId":"' .. ARGV[3]
    .. '","courseSlug":"' .. ARGV[4] .. '"}')
end
draft.cid, draft.cslug = ARGV[3], ARGV[4]
if draft.st == 'submitted' and redis.call('PTTL', KEYS[1]) > tonumber(ARGV[5]) then
  write_draft(KEYS[1], draft, 'PX', ARGV[5])
else
  write_draft(KEYS[1], draft, 'KEEPTTL')
end
if draft.st == 'submitted' then
  publish(KEYS[3], '{"type":"submitted","version":' .. version .. ',"courseId":"' .. ARGV[3] .. '"}')
end
return 1
