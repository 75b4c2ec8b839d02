-- Counts one write (create, submit, upload, delete) of a user in the current
-- fixed window, or only reads the count (a tus PATCH checks the budget when it
-- starts and spends it when it ends).
-- Uses: rate_window, window_left.
-- KEYS[1] the user's write counter
-- ARGV[1] the window in ms, ARGV[2] '1' to count a write, '0' to read
-- Answers {the count, the ms the window has left (negative if none)}.
local counter_key = KEYS[1]
local window_ms, spend = ARGV[1], ARGV[2] == '1'

local count
if spend then
  count = rate_window(counter_key, window_ms)
else
  count = tonumber(redis.call('GET', counter_key) or '0')
end
return {count, window_left(counter_key)}
