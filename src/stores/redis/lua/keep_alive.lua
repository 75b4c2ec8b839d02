-- Prepended to the scripts that write a draft (see scripts.rs), after
-- record.lua: keeps the draft's entry ARGV[1] in the owner's index (KEYS[2])
-- alive for `ttl` ms, until `expires`. The draft itself got its TTL from its
-- write (SET ... PX).
local function keep_alive(ttl, expires)
  redis.call('ZADD', KEYS[2], expires, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ttl)
end

