-- The benchmark's wrk script. The driver (bench/wrk.go) sets the request in
-- the environment:
--   BENCH_METHOD, BENCH_PATH   the request line
--   BENCH_BODY                 a file holding the body (may be empty)
--   BENCH_MODE=register        a fresh userId in every request's body
--   BENCH_MODE=many-save       saves to many backups in turn: BENCH_IDS is a
--                              file of "userId storageKey" lines, BENCH_BODY
--                              holds the data member (a JSON string)
--   BENCH_MODE=many-restore    restores of those backups, picked at random
--   BENCH_RUN                  a number unique to this wrk run (register)
-- and reads one line back from done(): "BENCH {json}".

wrk.method = os.getenv("BENCH_METHOD")
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Content-Type"] = "application/json"

local body_file = os.getenv("BENCH_BODY")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

if os.getenv("BENCH_MODE") == "register" then
  local run = tonumber(os.getenv("BENCH_RUN")) or 0
  local counter = 0
  local padding = string.rep("0", 40)
  function request()
    counter = counter + 1
    local user = string.format("%08x%08x%08x", run, tid or 0, counter) .. padding
    return wrk.format(nil, nil, nil, '{"userId":"' .. user .. '"}')
  end
end

local mode = os.getenv("BENCH_MODE")
if mode == "many-save" or mode == "many-restore" then
  local reqs = {}
  local data = wrk.body
  -- Built in init, once wrk has set the Host header.
  function init(args)
    for line in io.lines(os.getenv("BENCH_IDS")) do
      local user, key = line:match("^(%x+) (%x+)$")
      if mode == "many-save" then
        reqs[#reqs + 1] = wrk.format("POST", "/api/backup", nil,
          '{"userId":"' .. user .. '","storageKey":"' .. key .. '","data":' .. data .. '}')
      else
        reqs[#reqs + 1] = wrk.format("GET", "/api/backup?userId=" .. user .. "&storageKey=" .. key)
      end
    end
  end
  local n = 0
  function request()
    if mode == "many-save" then
      n = n % #reqs + 1
    else
      n = math.random(#reqs)
    end
    return reqs[n]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%.0f,"p95_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
