-- wrk script: Pushgateway-API PUTs spread over GROUPS existing groups (text format).
local groups = tonumber(os.getenv("GROUPS") or "10000")
local counter = 0
local headers = { ["Content-Type"] = "text/plain; version=0.0.4" }

function setup(thread)
  thread:set("offset", math.random(0, groups))
end

request = function()
  counter = counter + 1
  local g = (counter * 7919 + (offset or 0)) % groups
  local body = string.format("# TYPE bench_records_processed gauge\nbench_records_processed %d\n# TYPE bench_last_success_time_seconds gauge\nbench_last_success_time_seconds %d\n", counter, 1700000000 + (g % 1000))
  return wrk.format("PUT", "/metrics/job/bench/instance/i" .. g, headers, body)
end
