-- Marks a draft whose course went to the trash (ARGV[2] '1') or came back
-- from it (ARGV[2] ''): autosave refuses a marked draft. Only the draft of
-- that course; an expired draft is not recreated.
-- KEYS[1] the draft, ARGV[1] the course id
local draft = read_draft(KEYS[1])
if not draft or draft.cid ~= ARGV[1] then
  return 0
end
draft.tr = ARGV[2] == '1' and '1' or '0'
write_draft(KEYS[1], draft, 'KEEPTTL')
return 1
