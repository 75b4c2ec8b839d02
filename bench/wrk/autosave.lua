-- wrk: autosaves, closed loop. Each request is the next line of the targets
-- file (the first argument): "<path> <token> <JSON body>", one typist each.
-- The second argument, if "minimal", adds `Prefer: return=minimal`.
local targets = {}
local next_target = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, token, body = line:match("^(%S+) (%S+) (.*)$")
    local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/merge-patch+json",
    }
    if args[2] == "minimal" then
      headers["Prefer"] = "return=minimal"
    end
    targets[#targets + 1] = wrk.format("PATCH", path, headers, body)
  end
  -- Threads start at different typists.
  next_target = math.random(#targets)
end

function request()
  next_target = next_target % #targets + 1
  return targets[next_target]
end
