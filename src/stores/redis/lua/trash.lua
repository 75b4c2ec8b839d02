-- Marks a draft whose course went to the trash (ARGV[2] '1') or came back
-- from it (ARGV[2] ''): autosave refuses a marked draft. Only the draft of
-- that course; an expired draft is not recreated.
-- KEYS[1] the draft, ARGV[1] the course id
if redis.call('HGET', KEYS[1], 'cid') ~= ARGV[1] then
  return 0
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'tr', '1')
else
  redis.call('HDEL', KEYS[1], 'tr')
end
return 1
