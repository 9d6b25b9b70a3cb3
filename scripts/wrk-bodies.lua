-- wrk script: POST a rotating set of JSON bodies, one per line of a file.
--   WRK_BODIES  file with one JSON body per line (required)
--   WRK_AUTH    value of the Authorization header (optional)
-- Each wrk thread starts at a different line and walks the file in a cycle.
-- The requests are formatted once, in init, so the script costs wrk little.
-- No response() callback: wrk then skips handing each response to Lua, which
-- would cost the load generator (on the same 2 cores) more than the server.
-- wrk itself reports "Non-2xx or 3xx responses". On exit the script prints
-- machine-readable lines: p50_us, p90_us, p99_us, rps, errors.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("WRK_BODIES")
  local auth = os.getenv("WRK_AUTH")
  local headers = { ["Content-Type"] = "application/json" }
  if auth and auth ~= "" then headers["Authorization"] = auth end
  reqs = {}
  for line in io.lines(path) do
    if line ~= "" then
      reqs[#reqs + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  if #reqs == 0 then error("no bodies in " .. tostring(path)) end
  n = #reqs
  -- spread the threads over the file
  i = (id * 7919) % n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

function done(summary, latency, requests)
  io.write(string.format("p50_us %d\np90_us %d\np99_us %d\nrps %.1f\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.requests / (summary.duration / 1e6)))
  local e = summary.errors
  io.write(string.format("errors %d\nnon2xx %d\n", e.connect + e.read + e.write + e.timeout, e.status))
end
