-- wrk script of the benchmark: each request is drawn at random from request files
-- written by bench/run.ts, one request a line: organization id, token and JSON body,
-- separated by tabs. Arguments: one or more WEIGHT:FILE (the mixed run draws a file by
-- weight first). A body's "__CONFIDENCE__" placeholders get one fresh score each time.
-- Answers other than HTTP 200 without "errors" are counted as failures.

local pools = {}
local total_weight = 0
local placeholder = '"__CONFIDENCE__"'

local function load(file)
  local pool = {}
  for line in io.lines(file) do
    local org, token, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    if body then
      local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token, ["X-Organization-ID"] = org }
      if body:find(placeholder, 1, true) then
        pool[#pool + 1] = { template = body, headers = headers }
      else
        pool[#pool + 1] = { request = wrk.format("POST", nil, headers, body) }
      end
    end
  end
  return pool
end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
  for _, spec in ipairs(args) do
    local weight, file = spec:match("^([%d.]+):(.+)$")
    local pool = load(file)
    total_weight = total_weight + tonumber(weight)
    pools[#pools + 1] = { upto = total_weight, pool = pool }
  end
  failures = 0
end

function request()
  local r = math.random() * total_weight
  local chosen = pools[#pools].pool
  for _, p in ipairs(pools) do
    if r < p.upto then chosen = p.pool break end
  end
  local item = chosen[math.random(#chosen)]
  if item.request then return item.request end
  local score = string.format("%.4f", 0.0001 + math.random() * 0.9998)
  local body = item.template:gsub(placeholder, score)
  return wrk.format("POST", nil, item.headers, body)
end

function response(status, headers, body)
  if status ~= 200 or body:find('"errors"', 1, true) then
    failures = failures + 1
    if failures <= 3 then io.stderr:write("failure: " .. status .. " " .. body:sub(1, 300) .. "\n") end
  end
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local failed = 0
  for _, t in ipairs(threads) do failed = failed + (t:get("failures") or 0) end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"socketErrors":%d,"non2xx":%d,"failures":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"meanUs":%.1f}\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, failed,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
