-- A draft's record, read in either layout: for a draft still in the layout
-- this one replaced (a hash, which GET refuses), converted without writing it.
-- Uses: read_draft, encode_draft.
-- KEYS[1] the draft
-- Answers the record, or nil if there is none.
local draft_key = KEYS[1]

local draft = read_draft(draft_key)
if not draft then
  return false
end
return encode_draft(draft)
