-- Autosave: one atomic merge of form fields into an existing draft.
-- Never recreates an expired draft, never changes a submitted one or one
-- whose course is in the trash (header field 'tr').
-- Announces the saved version and the patch on the draft's events channel.
-- A patch that changes no field (`{}`, or values the draft holds) keeps the
-- version and updatedAt and announces nothing; it still refreshes the TTL.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- owner's autosave counter, KEYS[4] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id (another one's draft is missing),
-- ARGV[3] TTL in ms, ARGV[4] '' for any version, else the accepted versions
-- wrapped in commas (',3,5,'; ',,' accepts none),
-- ARGV[5] autosaves allowed per window, ARGV[6] the window in ms,
-- ARGV[7] the merge patch as JSON text (published as it is),
-- ARGV[8] 'minimal' to answer only the new version ('saved', version), else
-- the draft ('ok', its record),
-- ARGV[9] number n of fields to set, ARGV[10 .. 9+2n] field and JSON value pairs,
-- ARGV[10+2n ..] fields to remove
local count = redis.call('INCR', KEYS[3])
if count == 1 then
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
if count > tonumber(ARGV[5]) then
  return {'limited', tostring(redis.call('PTTL', KEYS[3]))}
end
local draft = read_draft(KEYS[1])
if not draft or draft.org ~= ARGV[2] then
  return {'missing'}
end
if draft.st == 'submitted' then
  return {'submitted'}
end
if draft.tr == '1' then
  return {'trashed'}
end
local version = draft.v
if ARGV[4] ~= '' and not string.find(ARGV[4], ',' .. version .. ',', 1, true) then
  return {'stale', version}
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[3])
local expires = now + ttl
local last_set = 9 + 2 * tonumber(ARGV[9])

local changed = false
for i = 10, last_set, 2 do
  changed = set_field(draft, ARGV[i], ARGV[i + 1]) or changed
end
for i = last_set + 1, #ARGV do
  changed = set_field(draft, ARGV[i], nil) or changed
end
local saved = version
if changed then
  saved = tostring(tonumber(version) + 1)
  draft.v, draft.ua = saved, now
end
draft.ea = expires
local record = write_draft(KEYS[1], draft, 'PX', ttl)
if changed then
  publish(KEYS[4], '{"type":"saved","version":' .. saved .. ',"patch":' .. ARGV[7] .. '}')
end
keep_alive(ttl, expires)
if ARGV[8] == 'minimal' then
  return {'saved', saved}
end
return {'ok', record}
