-- Counts one write (create, submit, upload, delete) of a user in the current
-- fixed window, or only reads the count (a tus PATCH checks the budget when it
-- starts and spends it when it ends); answers the count and the window's
-- remaining ms.
-- KEYS[1] the user's write counter; ARGV[1] the window in ms; ARGV[2] '1' to
-- count a write, '0' to read
if ARGV[2] == '0' then
  local count = tonumber(redis.call('GET', KEYS[1]) or '0')
  return {count, redis.call('PTTL', KEYS[1])}
end
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('PTTL', KEYS[1])}
