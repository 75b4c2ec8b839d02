-- Autosave: one atomic merge of form fields into an existing draft.
-- Never recreates an expired draft, never changes a submitted one or one
-- whose course is in the trash (header field 'tr').
-- Announces the saved version and the patch on the draft's events channel.
-- A patch that changes no field (`{}`, or values the draft holds) keeps the
-- version and updatedAt and announces nothing; it still refreshes the TTL.
-- Uses: rate_window, window_left, open_draft, now_ms, set_field, write_draft,
-- publish, keep_alive.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- owner's autosave counter, KEYS[4] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id (another one's draft is missing),
-- ARGV[3] TTL in ms, ARGV[4] '' for any version, else the accepted versions
-- wrapped in commas (',3,5,'; ',,' accepts none),
-- ARGV[5] autosaves allowed per window, ARGV[6] the window in ms,
-- ARGV[7] the merge patch as JSON text (published as it is),
-- ARGV[8] 'minimal' to answer only the new version, else the draft,
-- ARGV[9] number n of fields to set, ARGV[10 .. 9+2n] field and JSON value pairs,
-- ARGV[10+2n ..] fields to remove
-- Answers {'draft', record} or {'saved', version} (ARGV[8]), {'limited', ms
-- the window has left}, {'missing'}, {'submitted'}, {'trashed'}, or {'stale',
-- the current version}.
local draft_key, index_key, rate_key, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, org, ttl, accepted = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local limit, window_ms, patch_json, minimal = tonumber(ARGV[5]), ARGV[6], ARGV[7],
  ARGV[8] == 'minimal'
local last_set = 9 + 2 * tonumber(ARGV[9])

if rate_window(rate_key, window_ms) > limit then
  return {'limited', window_left(rate_key)}
end
local draft, refused = open_draft(draft_key, org)
if not draft then
  return refused
end
if draft.tr == '1' then
  return {'trashed'}
end
local version = draft.v
if accepted ~= '' and not string.find(accepted, ',' .. version .. ',', 1, true) then
  return {'stale', tonumber(version)}
end

local now = now_ms()
local expires = now + ttl
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
local record = write_draft(draft_key, draft, 'PX', ttl)
if changed then
  publish(channel, '{"type":"saved","version":' .. saved .. ',"patch":' .. patch_json .. '}')
end
keep_alive(index_key, id, ttl, expires)
if minimal then
  return {'saved', tonumber(saved)}
end
return {'draft', record}
