-- Autosave: one atomic merge of form fields into an existing draft.
-- Never recreates an expired draft, never changes a submitted one or one
-- whose course is in the trash (header field 'tr').
-- Announces the saved version and the patch on the draft's events channel.
-- A patch that changes no field (`{}`, or values the draft holds) keeps the
-- version and updatedAt and announces nothing; it still refreshes the TTL.
-- Only the lines of the fields it names are read and replaced (form_edits,
-- splice_form); the rest of the record is copied as it is. The header is
-- looked at by position (owned_header), and the new record made in one
-- concat of the pieces it keeps and the arguments as they came. The owner's
-- index is read only if the record does not say its entry's score (`ix`,
-- absent from a record written before the header had it).
-- Uses: rate_window, window_left, read_record, owned_header, form_edits,
-- now_ms, keep_alive, splice_form, publish.
-- KEYS[1] the draft, KEYS[2] the owner's index of live drafts, KEYS[3] the
-- owner's autosave counter, KEYS[4] the draft's events channel
-- ARGV[1] draft id, ARGV[2] organization id (another one's draft is missing),
-- ARGV[3] TTL in ms, ARGV[4] '' for any version, else the accepted versions
-- wrapped in commas (',3,5,'; ',,' accepts none),
-- ARGV[5] autosaves allowed per window, ARGV[6] the window in ms,
-- ARGV[7] the merge patch as JSON text (published as it is),
-- ARGV[8] 'minimal' to answer only the new version, else the draft,
-- ARGV[9] number n of fields to set, ARGV[10 .. 9+2n] field and JSON value
-- pairs, ARGV[10+2n ..] fields to remove; each field name framed as its
-- record line begins, '\n<name>=', so that the save makes no string of it.
-- Answers {'draft', record} or {'saved', version} (ARGV[8]), {'limited', ms
-- the window has left}, {'missing'}, {'submitted'}, {'trashed'}, or {'stale',
-- the current version}.
local draft_key, index_key, rate_key, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, org, ttl, accepted = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttl_ms = tonumber(ttl)
local limit, window_ms, patch_json, minimal = tonumber(ARGV[5]), ARGV[6], ARGV[7],
  ARGV[8] == 'minimal'
local removals_at = 10 + 2 * tonumber(ARGV[9])

if rate_window(rate_key, window_ms) > limit then
  return {'limited', window_left(rate_key)}
end
local text = read_record(draft_key)
if not text then
  return {'missing'}
end
local v_end, st_end, ca_end, ua_end, ea_end, slug_end, form_at, ix = owned_header(text, org)
if not v_end then
  return {'missing'}
end
if st_end - v_end == 10 and string.find(text, 'submitted', v_end + 1, true) == v_end + 1 then
  return {'submitted'}
end
if string.byte(text, ea_end + 1) == 49 then -- '1': the course is in the trash
  return {'trashed'}
end
local version = string.sub(text, #org + 2, v_end - 1)
if accepted ~= '' and not string.find(accepted, ',' .. version .. ',', 1, true) then
  return {'stale', tonumber(version)}
end

local spans, edited = form_edits(text, ARGV, 10, removals_at)
local now = now_ms()
local expires = string.format('%d', now + ttl_ms)
local known = tonumber(ix)
local score = keep_alive(index_key, id, ttl_ms, now + ttl_ms, known)
if score ~= known then
  ix = string.format('%d', score)
end
local saved, saved_number, record = version, nil, nil
if edited > 0 then
  -- org, the new version, ' st ca ', updated now, expires, ' tr cid cslug',
  -- ix, then the form spliced.
  saved_number = tonumber(version) + 1
  saved = string.format('%d', saved_number)
  record = splice_form(text, form_at, spans, edited, ARGV, removals_at,
    {org, ' ', saved, string.sub(text, v_end, ca_end), string.format('%d', now), ' ', expires,
      string.sub(text, ea_end, slug_end - 1), ' ', ix}, 10)
else
  record = {string.sub(text, 1, ua_end), expires, string.sub(text, ea_end, slug_end - 1), ' ', ix,
    string.sub(text, form_at)}
end
record = table.concat(record)
redis.call('SET', draft_key, record, 'PX', ttl)
if edited > 0 then
  publish(channel, '{"type":"saved","version":' .. saved .. ',"patch":' .. patch_json .. '}')
end
if minimal then
  return {'saved', saved_number or tonumber(version)}
end
return {'draft', record}
