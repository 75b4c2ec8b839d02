-- wrk: autosaves, closed loop. Each request is the next line of the targets
-- file (the first argument): "<path> <token> <JSON body>", one typist each.
-- The second argument, if "minimal", adds `Prefer: return=minimal`.
-- The body's first run of ten digits becomes the save's own number, so that
-- every save changes its draft, as typing does: one that repeated the
-- draft's text would change nothing, a cheaper path that announces no event.
local targets = {}
local next_target = 0
local typed = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  for line in io.lines(args[1]) do
    local path, token, body = line:match("^(%S+) (%S+) (.*)$")
    local head, tail = body:match("^(.-)%d%d%d%d%d%d%d%d%d%d(.*)$")
    local headers = {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/merge-patch+json",
    }
    if args[2] == "minimal" then
      headers["Prefer"] = "return=minimal"
    end
    targets[#targets + 1] = { path = path, headers = headers, head = head, tail = tail }
  end
  -- Threads start at different typists and number their saves apart.
  next_target = math.random(#targets)
  typed = (thread_number or 0) * 100000000
end

function request()
  next_target = next_target % #targets + 1
  typed = typed + 1
  local target = targets[next_target]
  local body = target.head .. string.format("%010d", typed) .. target.tail
  return wrk.format("PATCH", target.path, target.headers, body)
end
