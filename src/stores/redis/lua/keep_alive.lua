-- Prepended to the scripts that write a draft (see drafts.rs): keeps the draft
-- (KEYS[1]) and its entry ARGV[1] in the owner's index (KEYS[2]) alive for
-- `ttl` ms, until `expires`.
local function keep_alive(ttl, expires)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], expires, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ttl)
end

-- The same, then answers 'ok' and the draft's hash.
local function keep_alive_and_answer(ttl, expires)
  keep_alive(ttl, expires)
  local draft = redis.call('HGETALL', KEYS[1])
  table.insert(draft, 1, 'ok')
  return draft
end

