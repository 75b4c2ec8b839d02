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
--      the save's: read_record, owned_header, form_edits, splice_form
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
-- line `org v st ca ua ea tr cid cslug ix`, then a `\n<name>=<JSON text>`
-- line per form field. A draft is a table holding the header's fields by
-- name, as stored (`tr` '1' or '0', `cid`/`cslug` '-' when absent, `ix` the
-- score of its entry in the owner's index, '-' when not known: see
-- keep_alive), and `body`, the form's lines as they are: an autosave
-- rewrites only the lines it names, never parsing the others.
local RECORD_HEADER = {'org', 'v', 'st', 'ca', 'ua', 'ea', 'tr', 'cid', 'cslug', 'ix'}

-- A draft still in the layout this one replaced, a hash (`f:<name>` per form
-- field, `tr` present while trashed), as a table: read until the last such
-- draft expires, a TTL after the rollout; its next write converts it. A field
-- it lacks reads as a placeholder, which record.rs refuses (org '-').
local function legacy_draft(key)
  local draft = {org = '-', v = '0', st = '-', ca = '0', ua = '0', ea = '0', tr = '0',
    cid = '-', cslug = '-', ix = '-'}
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

-- The draft at `key` as a table, or nil if there is none. A record written
-- before the header had `ix` (until the last such draft expires, a TTL after
-- the rollout) reads as `ix` '-'; its next write adds it.
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
  local space = string.find(text, ' ', at, true)
  if space and space < header_end then
    draft.cslug, draft.ix = string.sub(text, at, space - 1), string.sub(text, space + 1, header_end - 1)
  else
    draft.cslug, draft.ix = string.sub(text, at, header_end - 1), '-'
  end
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
    draft.cid, draft.cslug, draft.ix}, ' ') .. draft.body
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

-- Where the header fields of record `text` end (the space after each) if
-- it belongs to organization `org`: version, status, created, updated,
-- expires; then where the course slug ends, where the form's lines start,
-- and `ix`'s text (nil in a record written before the header had it); nil
-- for another organization's. Plain finds and byte compares, no pattern
-- and one string made: Redis's Lua hashes every byte of every string it
-- makes, and a pattern's captures are strings.
local function owned_header(text, org)
  local org_end = #org + 1
  if string.byte(text, org_end) ~= 32 or string.find(text, org, 1, true) ~= 1 then
    return nil
  end
  local v_end = string.find(text, ' ', org_end + 1, true)
  local st_end = v_end and string.find(text, ' ', v_end + 1, true)
  local ca_end = st_end and string.find(text, ' ', st_end + 1, true)
  local ua_end = ca_end and string.find(text, ' ', ca_end + 1, true)
  local ea_end = ua_end and string.find(text, ' ', ua_end + 1, true)
  -- The trash mark is one character; the header holds no newline.
  local form_at = string.find(text, '\n', 1, true) or #text + 1
  local cid_end = ea_end and string.byte(text, ea_end + 2) == 32
    and string.find(text, ' ', ea_end + 3, true)
  if not cid_end or cid_end >= form_at then
    error('draft record: malformed header')
  end
  local slug_end = string.find(text, ' ', cid_end + 1, true)
  if not slug_end or slug_end > form_at then
    return v_end, st_end, ca_end, ua_end, ea_end, form_at, form_at, nil
  end
  return v_end, st_end, ca_end, ua_end, ea_end, slug_end, form_at,
    string.sub(text, slug_end + 1, form_at - 1)
end

-- The lines of record `text` that a save's edits change, in the record's
-- order: a flat list of (start, stop, i) triples, `argv[i]` the edit's
-- field name framed as its line begins ('\n<name>='), its JSON text
-- `argv[i + 1]` for i below `removals_at` (a set), none from there on (a
-- removal); and the list's length. Edits run from `argv[first]`, names
-- distinct, as a patch's are. A line is from its '\n' up to the next (or
-- the end); a new field's (start past the end) goes last, in the edits'
-- order. '\n<name>=' can only start a field's line: names hold no '=',
-- and JSON text no raw newline. Values are canonical JSON text (serde_json's,
-- of a parsed value), so equal text is equal JSON: a set to the text a field
-- holds changes nothing.
local function form_edits(text, argv, first, removals_at)
  local spans, n, tail = {}, 0, #text + 1
  local i, last = first, #argv
  while i <= last do
    local frame, value = argv[i], i < removals_at and argv[i + 1]
    local start = string.find(text, frame, 1, true)
    local stop
    if start then
      local at = start + #frame
      stop = string.find(text, '\n', at, true) or tail
      if value and stop - at == #value and string.find(text, value, at, true) == at then
        start = nil
      end
    elseif value then
      start, stop = tail + i, tail
    end
    if start then
      -- Insertion by start: a patch names a handful of fields.
      local j = n
      while j > 0 and spans[j - 2] > start do
        spans[j + 1], spans[j + 2], spans[j + 3] = spans[j - 2], spans[j - 1], spans[j]
        j = j - 3
      end
      spans[j + 1], spans[j + 2], spans[j + 3] = start, stop, i
      n = n + 3
    end
    i = i + (value and 2 or 1)
  end
  return spans, n
end

-- Appends to `pieces` (`p` of them so far) record `text` from `at` on with
-- the lines of `spans` (form_edits') replaced: a set's line by its framed
-- name and JSON text, both as received, a removal's by nothing. The rest is
-- copied in as few pieces as there are edits, never parsed, so the save
-- makes one record and no copy of it on the way. Answers `pieces`.
local function splice_form(text, at, spans, n, argv, removals_at, pieces, p)
  local tail = #text + 1
  for k = 1, n, 3 do
    local start, i = spans[k], spans[k + 2]
    if at < start and at < tail then
      p = p + 1
      pieces[p] = string.sub(text, at, start - 1)
    end
    if i < removals_at then
      pieces[p + 1], pieces[p + 2] = argv[i], argv[i + 1]
      p = p + 2
    end
    at = spans[k + 1]
  end
  if at < tail then
    pieces[p + 1] = string.sub(text, at)
  end
  return pieces
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
-- the index about once a minute. Answers the entry's score, which the
-- caller writes into the draft's record (`ix`): `known`, that field as a
-- number, spares the next call reading the index (nil: read it). So every
-- script that writes the entry writes `ix` with it in the same call (thaw:
-- the expiry itself; freeze, which removes the entry: '-'), and the entry
-- never ends before its draft; it may outlive it by the slack, which the
-- list skips (the record is gone) and the cap counts. Should the entry go
-- without its draft (the index evicted), the draft's next save past `ix`,
-- at most a slack later, puts it back.
local function keep_alive(index_key, id, ttl_ms, expires, known)
  local due = tonumber(expires)
  local score = known or tonumber(redis.call('ZSCORE', index_key, id))
  if score and score >= due then
    return score
  end
  local slack = math.min(60000, math.floor(ttl_ms / 10))
  redis.call('ZADD', index_key, string.format('%d', due + slack), id)
  redis.call('PEXPIRE', index_key, string.format('%d', ttl_ms + slack))
  return due + slack
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
