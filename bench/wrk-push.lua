-- wrk script: POST /push with single events or batches over a set of distinct jobs.
-- Environment: JOBS (distinct job names), BATCH (events per request, 1 = single event).
local jobs = tonumber(os.getenv("JOBS") or "1000")
local batch = tonumber(os.getenv("BATCH") or "1")
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("offset", math.random(0, jobs))
end

local function event(j)
  return string.format('{"job_name":"bench-%d","run_id":"bench-run-%d","event":"heartbeat","progress":%d}', j, j, counter % 100)
end

request = function()
  counter = counter + 1
  if batch == 1 then
    return wrk.format("POST", "/push", headers, event((counter + (offset or 0)) % jobs))
  end
  local parts = {}
  for i = 1, batch do
    parts[i] = event((counter * batch + i + (offset or 0)) % jobs)
  end
  return wrk.format("POST", "/push", headers, "[" .. table.concat(parts, ",") .. "]")
end
