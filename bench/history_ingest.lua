-- wrk script for bench/history_ingest.py: players posting heartbeats through the gateway.
-- Each request is POST /api/history/events with EVENTS heartbeats of one profile, signed in
-- with one of TOKENS bearer tokens in turn (the benchmark's gateway knows tok-0..tok-N-1).
-- Arguments: wrk ... URL -- TOKENS EVENTS. done() prints one JSON line, as gateway_proxy.lua.
local tokens = 1000
local per = 1
local sent = 0

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  tokens = tonumber(args[1] or "1000")
  per = tonumber(args[2] or "1")
end

function request()
  sent = sent + 1
  local me = tid or 0
  local token = (sent * 31 + me * 7) % tokens
  local now = os.time()
  local events = {}
  for i = 1, per do
    events[i] = string.format(
      '{"event_id":"w%d-%d-%d","kind":"heartbeat","title_id":"title-%d","position_s":%d,'
      .. '"duration_s":3000,"rendition":"1080p","bitrate":5800000,"buffer_s":24.5,'
      .. '"rebuffers":0,"device":"tv","client_ts":%d}',
      me, sent, i, sent % 50, (sent * 4 + i) % 3000, now)
  end
  local body = '{"events":[' .. table.concat(events, ",") .. ']}'
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer tok-" .. token
  return wrk.format("POST", "/api/history/events", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
