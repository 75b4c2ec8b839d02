-- The autosave script as it was before the index moved once a minute (it
-- wrote ZADD and PEXPIRE on every save): lua/lib.lua then lua/patch.lua
-- (commit b7d4898), assembled as scripts.rs assembles them (after a
-- PUBLISH_COMMAND line the bench adds). A fixed copy: the Redis-cost
-- benchmark's row for the splicing save.
-- draftd's Lua library: the helpers of every entry script (the other files
-- here). scripts.rs builds each script as one line naming the publish
-- command, then this file, then the entry, and loads it by EVALSHA.
--
-- Nothing here reads KEYS or ARGV: an entry script reads them at its top and
-- passes each helper what it needs. A helper calls only helpers above it
-- (Lua binds a local function's names where it is written), hence the order:
--   1. the clock: now_ms
--   2. rate windows: rate_window, window_left
--   3. the record: read_draft (legacy_draft), set_field, encode_draft, write_draft;
--      the save's: read_record, owned_header, splice_form
--   4. ownership: owned_draft
--   5. the owner's index: keep_alive
--   6. events: publish
-- Replies are decoded in reply.rs, the one place that knows their shapes.
--
-- A draft's keys and its events channel carry its owner's hash tag (keys.rs),
-- so every key an entry passes down is in one slot, as a cluster requires.

-- 1. The Redis clock, in Unix ms: the time every replica agrees on.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- 2. Counts one call in the fixed window at `key`, which starts at its first
-- call and lasts `window_ms`; answers the count so far, this one included.
local function rate_window(key, window_ms)
  local count = redis.call('INCR', key)
  if count == 1 then
    redis.call('PEXPIRE', key, window_ms)
  end
  return count
end

-- The ms the window at `key` has left (negative if there is none).
local function window_left(key)
  return redis.call('PTTL', key)
end

-- 3. A draft's record: one string, laid out as record.rs documents: a header
-- line `org v st ca ua ea tr cid cslug`, then a `\n<name>=<JSON text>` line
-- per form field. A draft is a table holding the header's fields by name, as
-- stored (`tr` '1' or '0', `cid`/`cslug` '-' when absent), and `body`, the
-- form's lines as they are: an autosave rewrites only the lines it names,
-- never parsing the others.
local RECORD_HEADER = {'org', 'v', 'st', 'ca', 'ua', 'ea', 'tr', 'cid', 'cslug'}

-- A draft still in the layout this one replaced, a hash (`f:<name>` per form
-- field, `tr` present while trashed), as a table: read until the last such
-- draft expires, a TTL after the rollout; its next write converts it. A field
-- it lacks reads as a placeholder, which record.rs refuses (org '-').
local function legacy_draft(key)
  local draft = {org = '-', v = '0', st = '-', ca = '0', ua = '0', ea = '0', tr = '0',
    cid = '-', cslug = '-'}
  local lines = {}
  local hash = redis.call('HGETALL', key)
  for i = 1, #hash, 2 do
    local name, value = hash[i], hash[i + 1]
    if string.sub(name, 1, 2) == 'f:' then
      lines[#lines + 1] = '\n' .. string.sub(name, 3) .. '=' .. value
    elseif name == 'tr' then
      draft.tr = '1'
    else
      draft[name] = value
    end
  end
  draft.body = table.concat(lines)
  return draft
end

-- The draft at `key` as a table, or nil if there is none.
local function read_draft(key)
  local text = redis.pcall('GET', key)
  if type(text) == 'table' then
    return legacy_draft(key)
  end
  if not text then
    return nil
  end
  local header_end = string.find(text, '\n', 1, true) or #text + 1
  local draft = {body = string.sub(text, header_end)}
  -- Plain finds, not a pattern: this runs on every autosave, and is cheaper.
  local at = 1
  for i = 1, 8 do
    local space = string.find(text, ' ', at, true)
    if not space or space >= header_end then
      error('draft record ' .. key .. ': malformed header')
    end
    draft[RECORD_HEADER[i]] = string.sub(text, at, space - 1)
    at = space + 1
  end
  draft.cslug = string.sub(text, at, header_end - 1)
  return draft
end

-- Sets a form field to its JSON text, or removes it (nil): an existing field
-- keeps its place, a new one goes last. '\n<name>=' can only start a field's
-- line: names hold no '=', and JSON text no raw newline. Answers whether the
-- form changed: values are canonical JSON text (serde_json's, of a parsed
-- value: strings, integers, arrays of strings), so equal text is equal JSON.
local function set_field(draft, name, value)
  local body = draft.body
  local line = value and '\n' .. name .. '=' .. value or ''
  local start = string.find(body, '\n' .. name .. '=', 1, true)
  if not start then
    if not value then
      return false
    end
    draft.body = body .. line
    return true
  end
  local stop = string.find(body, '\n', start + 1, true) or #body + 1
  if value and stop - start == #line and string.sub(body, start, stop - 1) == line then
    return false
  end
  draft.body = string.sub(body, 1, start - 1) .. line .. string.sub(body, stop)
  return true
end

-- The draft's record.
local function encode_draft(draft)
  return table.concat({draft.org, draft.v, draft.st, draft.ca, draft.ua, draft.ea, draft.tr,
    draft.cid, draft.cslug}, ' ') .. draft.body
end

-- Writes the draft to `key` with SET and the given expiry options ('PX', ms;
-- 'PXAT', Unix ms; or 'KEEPTTL'); answers the record written.
local function write_draft(key, draft, ...)
  local record = encode_draft(draft)
  redis.call('SET', key, record, ...)
  return record
end

-- The record at `key` as its text, a draft still in the hash layout
-- converted (unwritten), or nil if there is none: for the save, which edits
-- the text where it lies instead of reading it into a table.
local function read_record(key)
  local text = redis.pcall('GET', key)
  if type(text) == 'table' then
    return encode_draft(legacy_draft(key))
  end
  return text or nil
end

-- The header of record `text` if it belongs to organization `org`, as
-- version, status, created, updated, trash mark, the rest (' cid cslug'),
-- and where the form's lines start; nil for another organization's.
local function owned_header(text, org)
  local owner, v, st, ca, ua, tr, rest, form_at = string.match(text,
    '^(%S+) (%S+) (%S+) (%S+) (%S+) %S+ (%S+)( %S+ %S+)()')
  if not owner then
    error('draft record: malformed header')
  end
  if owner ~= org then
    return nil
  end
  return v, st, ca, ua, tr, rest, form_at
end

-- Appends to `pieces` the form of record `text` (its lines from `form_at`)
-- with `edits` applied: name, JSON text pairs, `false` as the text to remove
-- a field; the names distinct, as a patch's are. Only the lines it names are
-- looked at; the rest is copied in as few pieces as there are edits, never
-- parsed: Redis hashes every byte of every string Lua makes, so the save
-- makes one record and no copy of it on the way (set_field's rule on
-- changes and line order holds). Answers whether the form changed.
local function splice_form(text, form_at, edits, pieces)
  local starts, stops, lines = {}, {}, {}
  local changed = false
  for i = 1, #edits, 2 do
    local name, value = edits[i], edits[i + 1]
    local start = string.find(text, '\n' .. name .. '=', form_at, true)
    local at = start and start + #name + 2
    local stop = start and (string.find(text, '\n', at, true) or #text + 1)
    if start and not (value and stop - at == #value and string.find(text, value, at, true) == at) then
      starts[#starts + 1], stops[start], lines[start] = start, stop, i
      changed = true
    elseif not start and value then
      starts[#starts + 1], stops[#text + 1 + i], lines[#text + 1 + i] = #text + 1 + i, #text + 1, i
      changed = true
    end
  end
  table.sort(starts)
  local at = form_at
  for _, start in ipairs(starts) do
    local i = lines[start]
    pieces[#pieces + 1] = string.sub(text, at, start - 1)
    if edits[i + 1] then
      pieces[#pieces + 1] = '\n' .. edits[i] .. '='
      pieces[#pieces + 1] = edits[i + 1]
    end
    at = math.max(at, stops[start])
  end
  pieces[#pieces + 1] = string.sub(text, at)
  return changed
end

-- 4. The draft at `key` if it belongs to organization `org`, else nil: a
-- draft of another organization answers exactly as a missing one.
local function owned_draft(key, org)
  local draft = read_draft(key)
  if draft and draft.org == org then
    return draft
  end
  return nil
end

-- 5. Keeps draft `id`'s entry in its owner's index (a sorted set scored by
-- expiry) until `expires`, and the index itself `ttl_ms` from now. The draft
-- gets its own TTL from its write (SET ... PX).
local function keep_alive(index_key, id, ttl_ms, expires)
  redis.call('ZADD', index_key, expires, id)
  redis.call('PEXPIRE', index_key, ttl_ms)
end

-- 6. Announces `payload` on a draft's events channel, which the entry has as
-- one of its KEYS, so that a cluster checks its slot like a key's:
-- PUBLISH_COMMAND, from the line above this file, is PUBLISH on one Redis,
-- SPUBLISH (sharded, in the draft's slot) on a cluster. Nobody listening
-- costs next to nothing.
local function publish(channel, payload)
  redis.call(PUBLISH_COMMAND, channel, payload)
end

-- The entry script follows.
-- Autosave: one atomic merge of form fields into an existing draft.
-- Never recreates an expired draft, never changes a submitted one or one
-- whose course is in the trash (header field 'tr').
-- Announces the saved version and the patch on the draft's events channel.
-- A patch that changes no field (`{}`, or values the draft holds) keeps the
-- version and updatedAt and announces nothing; it still refreshes the TTL.
-- Only the lines of the fields it names are read and replaced (splice_form);
-- the rest of the record is copied as it is.
-- Uses: rate_window, window_left, read_record, owned_header, now_ms,
-- splice_form, publish, keep_alive.
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
local text = read_record(draft_key)
if not text then
  return {'missing'}
end
local version, status, created, updated, trashed, rest, form_at = owned_header(text, org)
if not version then
  return {'missing'}
end
if status == 'submitted' then
  return {'submitted'}
end
if trashed == '1' then
  return {'trashed'}
end
if accepted ~= '' and not string.find(accepted, ',' .. version .. ',', 1, true) then
  return {'stale', tonumber(version)}
end

local edits = {}
for i = 10, last_set do
  edits[#edits + 1] = ARGV[i]
end
for i = last_set + 1, #ARGV do
  edits[#edits + 1], edits[#edits + 2] = ARGV[i], false
end
local now = now_ms()
local expires = string.format('%d', now + ttl)
-- The new record: its header, then the form's pieces.
local record = {org, ' ', version, ' ', status, ' ', created, ' ', updated, ' ', expires, ' ',
  trashed, rest}
local changed = splice_form(text, form_at, edits, record)
local saved = version
if changed then
  saved = string.format('%d', tonumber(version) + 1)
  record[3], record[9] = saved, string.format('%d', now)
end
record = table.concat(record)
redis.call('SET', draft_key, record, 'PX', ttl)
if changed then
  publish(channel, '{"type":"saved","version":' .. saved .. ',"patch":' .. patch_json .. '}')
end
keep_alive(index_key, id, ttl, expires)
if minimal then
  return {'saved', tonumber(saved)}
end
return {'draft', record}
