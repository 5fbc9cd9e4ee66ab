-- wrk script for bench/gateway_proxy.py.
-- done() prints one JSON line (requests, errors, latency percentiles in microseconds).
-- With a rate argument (wrk ... URL -- RATE SEED), delay() paces requests as Poisson arrivals:
-- exponential gaps with the target mean on a shared schedule, read from the monotonic clock
-- through LuaJIT's ffi. wrk rounds each delay to whole milliseconds.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local gap_ms = nil
local next_at = nil
local function paced()
  local now = now_ms()
  if next_at == nil then next_at = now end
  next_at = next_at - math.log(1 - math.random()) * gap_ms
  local wait = next_at - now
  if wait < 0 then return 0 end
  return math.floor(wait + 0.5)
end
function init(args)
  if args[1] ~= nil then
    gap_ms = 1000 / tonumber(args[1])
    math.randomseed(tonumber(args[2] or 1))
    delay = paced  -- wrk looks for delay() after init: unpaced runs have none
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
