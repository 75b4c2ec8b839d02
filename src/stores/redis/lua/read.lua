-- The draft's record, or nil: for a draft still in the layout this one
-- replaced (GET fails on it), read without converting it.
-- KEYS[1] the draft
local draft = read_draft(KEYS[1])
if not draft then
  return false
end
return encode_draft(draft)
