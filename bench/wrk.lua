-- The benchmark's wrk script. The driver (bench/wrk.go) sets the request in
-- the environment:
--   BENCH_METHOD, BENCH_PATH   the request line
--   BENCH_BODY                 a file holding the body (may be empty)
--   BENCH_MODE=register        a fresh userId in every request's body
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

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%.0f,"p95_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
