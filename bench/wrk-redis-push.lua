-- wrk script for bench/redis.mjs: POST /push with one run per request ([started, succeeded])
-- for one of JOBS jobs. Run ids are unique across threads and across the wrk processes of one
-- row (TAG: one per replica).
local jobs = tonumber(os.getenv("JOBS") or "200")
local tag = os.getenv("TAG") or "0"
local counter = 0
local headers = { ["Content-Type"] = "application/json" }
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

request = function()
  counter = counter + 1
  local run = string.format("r-%s-%d-%d", tag, tid or 0, counter)
  local job = string.format("job-%d", (counter * 7 + (tid or 0)) % jobs)
  local body = string.format('[{"job_name":"%s","run_id":"%s","event":"started"},{"job_name":"%s","run_id":"%s","event":"succeeded","records_processed":1}]', job, run, job, run)
  return wrk.format("POST", "/push", headers, body)
end
