-- Prepended to every script that reads or writes a draft (see scripts.rs):
-- the one reader and writer of a draft's record, one string laid out as
-- record.rs documents: a header line `org v st ca ua ea tr cid cslug`, then a
-- `\n<name>=<JSON text>` line per form field. A draft is a table holding the
-- header's fields by name, as stored (`tr` '1' or '0', `cid`/`cslug` '-' when
-- absent), and `body`, the form's lines as they are: an autosave rewrites
-- only the lines it names, never parsing the others.
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
