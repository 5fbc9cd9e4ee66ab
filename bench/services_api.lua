-- wrk script for bench/services_api.py: wrk ... URL -- REQUESTS_FILE SAMPLES_FILE
-- REQUESTS_FILE (written by the benchmark) is a Lua chunk returning a list of requests
-- {method, path, headers, body}; each connection takes the next one, in a round, so the load
-- rotates over accounts, sessions, devices and titles. done() prints one JSON line (requests,
-- errors, latency percentiles in microseconds, as gateway_proxy.lua does, and the count of
-- each status code answered). SAMPLES_FILE gets the first answer of each status other than 200.
local formatted = {}
local next_index = 0
local threads = {}
-- Per thread (globals, so done() can read them with thread:get).
statuses = {}  -- status code -> count
samples = {}  -- status code -> the first body answered with it (not for 200)
samples_file = nil

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  samples_file = args[2]
  local list = dofile(args[1])
  for i, r in ipairs(list) do
    formatted[i] = wrk.format(r[1], r[2], r[3], r[4])
  end
end

function request()
  next_index = next_index % #formatted + 1
  return formatted[next_index]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status ~= 200 and samples[status] == nil then
    samples[status] = body:sub(1, 500)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      table.insert(counts, string.format('"%d":%d', status, n))
    end
    local out = io.open(thread:get("samples_file"), "w")
    for status, body in pairs(thread:get("samples")) do
      out:write(string.format("%d %s\n", status, body:gsub("\n", " ")))
    end
    out:close()
  end
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"statuses":{%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(counts, ",")))
end
