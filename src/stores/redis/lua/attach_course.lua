-- Records the course a draft became; an open draft becomes materialized. A
-- submitted draft's session is kept at most ARGV[5] ms from now: it only has
-- to tell the form's other tabs that it was submitted. Announces on the
-- draft's events channel a draft that just became materialized, and a
-- submitted one (submit's last step: its course row is submitted).
-- Uses: owned_draft, write_draft, publish.
-- KEYS[1] the draft, KEYS[2] the owner's index (unused: it names the slot),
-- KEYS[3] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id, ARGV[3] course id, ARGV[4] course
-- slug, ARGV[5] the submitted session's TTL in ms
-- Answers 1 if the draft is there, else 0.
local draft_key, channel = KEYS[1], KEYS[3]
local org, course_id, course_slug, submitted_ttl = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])

local draft = owned_draft(draft_key, org)
if not draft then
  return 0
end
local version = draft.v
if draft.st == 'open' then
  draft.st = 'materialized'
  publish(channel, '{"type":"materialized","version":' .. version .. ',"courseId":"' .. course_id
    .. '","courseSlug":"' .. course_slug .. '"}')
end
draft.cid, draft.cslug = course_id, course_slug
if draft.st == 'submitted' and redis.call('PTTL', draft_key) > submitted_ttl then
  write_draft(draft_key, draft, 'PX', submitted_ttl)
else
  write_draft(draft_key, draft, 'KEEPTTL')
end
if draft.st == 'submitted' then
  publish(channel, '{"type":"submitted","version":' .. version .. ',"courseId":"' .. course_id .. '"}')
end
return 1
