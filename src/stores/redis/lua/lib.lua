-- draftd's Lua library: the helpers of every entry script (the other files
-- here). scripts.rs builds one Redis Function library of a line naming the
-- publish command, then this file, then each entry as a function (FCALL).
--
-- Nothing here reads KEYS or ARGV: an entry script reads them at its top and
-- passes each helper what it needs. A helper calls only helpers above it
-- (Lua binds a local function's names where it is written), hence the order:
--   1. the clock: now_ms
--   2. rate windows: rate_window, window_left
--   3. the record: read_draft (legacy_draft), set_field, encode_draft, write_draft;
--      the save's: read_record, owned_header, splice_form
--   4. ownership: owned_draft, open_draft
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

-- The draft at `key` if it belongs to `org` and is not submitted, else nil
-- and the reply that says why: {'missing'} or {'submitted'}.
local function open_draft(key, org)
  local draft = owned_draft(key, org)
  if not draft then
    return nil, {'missing'}
  end
  if draft.st == 'submitted' then
    return nil, {'submitted'}
  end
  return draft
end

-- 5. Keeps draft `id`'s entry in its owner's index (a sorted set scored by
-- expiry) until at least `expires`, the draft's new expiry (the draft gets
-- it from its write, SET ... PX). The entry moves only once `expires` passes
-- its score, and then to `expires` plus a slack (a minute, or a tenth of a
-- shorter TTL), the index itself as long: a save every few seconds writes
-- the index about once a minute. The score is read from the index, not kept
-- elsewhere, so whoever wrote the entry last (thaw: the expiry itself), it
-- never ends before its draft; it may outlive it by the slack, which the list
-- skips (the record is gone) and the cap counts.
local function keep_alive(index_key, id, ttl_ms, expires)
  local due = tonumber(expires)
  local score = tonumber(redis.call('ZSCORE', index_key, id))
  if score and score >= due then
    return
  end
  local slack = math.min(60000, math.floor(ttl_ms / 10))
  redis.call('ZADD', index_key, string.format('%d', due + slack), id)
  redis.call('PEXPIRE', index_key, string.format('%d', ttl_ms + slack))
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
