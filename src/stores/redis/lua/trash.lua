-- Marks a draft whose course went to the trash (ARGV[2] '1') or came back
-- from it (ARGV[2] ''): autosave refuses a marked draft. Only the draft of
-- that course; an expired draft is not recreated.
-- Uses: read_draft, write_draft.
-- KEYS[1] the draft
-- ARGV[1] the course id, ARGV[2] '1' to mark, '' to unmark
-- Answers 1 if it found the draft of that course, else 0.
local draft_key = KEYS[1]
local course_id, trashed = ARGV[1], ARGV[2] == '1'

local draft = read_draft(draft_key)
if not draft or draft.cid ~= course_id then
  return 0
end
draft.tr = trashed and '1' or '0'
write_draft(draft_key, draft, 'KEEPTTL')
return 1
