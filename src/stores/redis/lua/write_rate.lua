-- Counts one write (create, submit, upload, delete) of a user in the current
-- fixed window; answers the count and the window's remaining ms.
-- KEYS[1] the user's write counter; ARGV[1] the window in ms
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('PTTL', KEYS[1])}
