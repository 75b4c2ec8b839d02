-- Prepended to the scripts that announce a change of a draft, after a line
-- `local publish_command = 'PUBLISH'` (one Redis) or 'SPUBLISH' (a cluster:
-- the channel is sharded, in the draft's slot) chosen when the scripts are
-- loaded (see drafts.rs). The channel is one of the script's KEYS, so that a
-- cluster checks its slot like a key's. Nobody listening costs next to nothing.
local function publish(channel, payload)
  redis.call(publish_command, channel, payload)
end

