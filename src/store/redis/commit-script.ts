/**
 * The one write of the Redis store, as a Lua script so a commit is atomic: Redis runs a
 * script without interleaving any other client's command, and every check happens before
 * the first write, so a refused commit writes nothing.
 *
 * Optimistic concurrency: every run and job snapshot carries a revision (`v`). The writer
 * sends the revision its reduction started from (0 = "must not exist yet"); if another
 * replica committed in between, the script returns the conflicting keys and writes nothing.
 * A written revision is max(expect + 1, base), base being Redis' clock in microseconds or,
 * if higher, one past the highest revision the writer has seen (`seen`): revision + 1 alone
 * repeats numbers after Redis lost acknowledged writes, and a replica still holding a lost
 * snapshot at a reused number then committed on top of it, overwriting the commit that had
 * reused it. `seen` keeps revisions apart when Redis' clock steps back (a failover to a host
 * whose clock is behind). The script answers {'ok', base}: the writer computes the same max.
 * An `event_id` already in the log is a conflict too, so a delivery retried against two
 * replicas at once is applied once.
 *
 * Fencing: a batch of a leased singleton source carries `fence { lease, token }`. If the
 * lease's fence counter (INCR on every grant, lease.ts) is past the token, a newer leader
 * exists and the script refuses the batch first, whatever else it holds: a leader paused
 * past its lease cannot overwrite the results of the one that took over.
 *
 * Deletion: a job being deleted (forgetJob, FORGET_* below) has `deleting:<job>` set; a
 * batch that touches it (its snapshot, a run of it, an event of it) is refused with the
 * names, so no commit lands between the deletion's steps: it lands before (and is deleted)
 * or after (and starts the job afresh).
 *
 * Job limit: with `max_jobs`, a batch that creates jobs (expect 0, checked above as not
 * existing) is refused when the shared job set would grow past it, so the limit holds
 * across replicas, not per replica.
 *
 * Keys, all under the prefix:
 *   seq                      INCR counter: the global commit order of events
 *   eventids                 hash event_id → run_id (dedupe)
 *   ev                       hash seq → event JSON (the durable event log)
 *   run-events:<run_id>      zset of seqs (events of one run, in commit order)
 *   ev-by-recv               zset seq by received_at (retention)
 *   run:<run_id>             hash { v, d } (run snapshot JSON)
 *   runs / job-runs:<job> / child-runs:<parent>   zsets of run_id by created_at
 *   unfinished               set of run_ids without ended_at
 *   ended                    zset run_id by ended_at
 *   job-ended:<job>          zset run_id by ended_at, one job's ended runs (a job's window of
 *                            runs without reading its whole history); filled for data written
 *                            before it by JOB_ENDED_FILL_SCRIPT, once, marked by
 *   index:job-ended          set once job-ended:* holds every ended run (redis-store.ts)
 *   succeeded:<job>          zset run_id by ended_at (succeeded runs with a duration)
 *   job:<job_name>           hash { v, d } (job snapshot JSON); jobs: set of names
 *   lease:<name>:fence       the newest fencing token granted for a lease (lease.ts)
 *   deleting:<job>           the token of the replica deleting the job, with a ttl
 *   deleted:<job>            the highest revision its last deletion removed, for a minute
 *   changes                  stream: one entry per commit { origin, runs, jobs } that
 *                            every replica tails to converge; a commit's origin is
 *                            `<replica>:<n>` (redis-store.ts: commits in doubt)
 */
export const COMMIT_SCRIPT = `
local p = ARGV[1]
local b = cjson.decode(ARGV[2])
-- TIME before a write: Redis 7 replicates a script by its effects anyway; older ones must be told.
if redis.replicate_commands then redis.replicate_commands() end
if b.fence then
  local cur = tonumber(redis.call('GET', p .. 'lease:' .. b.fence.lease .. ':fence') or '0')
  if cur > b.fence.token then return {'fenced', tostring(cur)} end
end
local checked = {}
local deleting = {}
local function guard(name)
  if name == nil or checked[name] then return end
  checked[name] = true
  if redis.call('EXISTS', p .. 'deleting:' .. name) == 1 then deleting[#deleting + 1] = name end
end
for _, j in ipairs(b.jobs) do guard(j.name) end
for _, r in ipairs(b.runs) do guard(r.job) end
for _, e in ipairs(b.events) do guard(e.job) end
if #deleting > 0 then
  table.insert(deleting, 1, 'deleting')
  return deleting
end
local conflicts = {}
for _, r in ipairs(b.runs) do
  local v = tonumber(redis.call('HGET', p .. 'run:' .. r.id, 'v') or '0')
  if v ~= r.expect then conflicts[#conflicts + 1] = 'run:' .. r.id end
end
for _, j in ipairs(b.jobs) do
  local v = tonumber(redis.call('HGET', p .. 'job:' .. j.name, 'v') or '0')
  if v ~= j.expect then
    conflicts[#conflicts + 1] = 'job:' .. j.name
    -- Built on the job a deletion just removed (the writer has not followed it yet): said so,
    -- or the writer would take the job's absence for lost writes, or keep the old job's runs
    -- under the job started afresh since.
    local gone = j.expect > 0 and redis.call('GET', p .. 'deleted:' .. j.name)
    if gone and j.expect <= tonumber(gone) then conflicts[#conflicts + 1] = 'removed:' .. j.name end
  end
end
for _, e in ipairs(b.events) do
  if redis.call('HEXISTS', p .. 'eventids', e.id) == 1 then conflicts[#conflicts + 1] = 'event:' .. e.id end
end
if #conflicts > 0 then
  table.insert(conflicts, 1, 'conflict')
  return conflicts
end
if b.max_jobs then
  local created = 0
  for _, j in ipairs(b.jobs) do
    if j.expect == 0 then created = created + 1 end
  end
  if created > 0 then
    local have = redis.call('SCARD', p .. 'jobs')
    if have + created > b.max_jobs then return {'too_many_jobs', tostring(have)} end
  end
end

local t = redis.call('TIME')
local base = tonumber(t[1]) * 1000000 + tonumber(t[2])
if b.seen and b.seen >= base then base = b.seen + 1 end
-- Formatted: tostring() gives 16-digit numbers in exponent form, rounded to 14 digits.
local function rev(expect)
  if expect + 1 > base then return string.format('%.0f', expect + 1) end
  return string.format('%.0f', base)
end

local n = #b.events
local first = redis.call('INCRBY', p .. 'seq', n) - n
for i, e in ipairs(b.events) do
  local s = first + i
  redis.call('HSET', p .. 'eventids', e.id, e.run)
  redis.call('HSET', p .. 'ev', s, e.data)
  redis.call('ZADD', p .. 'run-events:' .. e.run, s, s)
  redis.call('ZADD', p .. 'ev-by-recv', e.recv, s)
end
for _, r in ipairs(b.runs) do
  redis.call('HSET', p .. 'run:' .. r.id, 'v', rev(r.expect), 'd', r.data)
  redis.call('ZADD', p .. 'runs', r.created, r.id)
  redis.call('ZADD', p .. 'job-runs:' .. r.job, r.created, r.id)
  if r.parent then redis.call('ZADD', p .. 'child-runs:' .. r.parent, r.created, r.id) end
  if r.ended then
    redis.call('SREM', p .. 'unfinished', r.id)
    redis.call('ZADD', p .. 'ended', r.ended, r.id)
    redis.call('ZADD', p .. 'job-ended:' .. r.job, r.ended, r.id)
  else
    redis.call('SADD', p .. 'unfinished', r.id)
    redis.call('ZREM', p .. 'ended', r.id)
    redis.call('ZREM', p .. 'job-ended:' .. r.job, r.id)
  end
  if r.succeeded then redis.call('ZADD', p .. 'succeeded:' .. r.job, r.ended, r.id) end
end
for _, j in ipairs(b.jobs) do
  redis.call('HSET', p .. 'job:' .. j.name, 'v', rev(j.expect), 'd', j.data)
  redis.call('SADD', p .. 'jobs', j.name)
end
redis.call('XADD', p .. 'changes', 'MAXLEN', '~', ARGV[3], '*', 'origin', b.origin, 'runs', b.run_ids, 'jobs', b.job_names)
return {'ok', string.format('%.0f', base)}
`;

/**
 * Compare-and-delete for prune: removes a finished run only if nobody rewrote it since it
 * was read and it is not its job's latest run (kept whatever its age, as in SQLite).
 */
export const DELETE_RUN_SCRIPT = `
local p = ARGV[1]
local k = p .. 'run:' .. ARGV[2]
if redis.call('HGET', k, 'v') ~= ARGV[3] then return 0 end
local job = redis.call('HGET', p .. 'job:' .. ARGV[4], 'd')
if job and cjson.decode(job).latest_run_id == ARGV[2] then return 0 end
redis.call('DEL', k)
redis.call('ZREM', p .. 'runs', ARGV[2])
redis.call('ZREM', p .. 'job-runs:' .. ARGV[4], ARGV[2])
redis.call('ZREM', p .. 'ended', ARGV[2])
redis.call('ZREM', p .. 'job-ended:' .. ARGV[4], ARGV[2])
redis.call('ZREM', p .. 'succeeded:' .. ARGV[4], ARGV[2])
if ARGV[5] ~= '' then redis.call('ZREM', p .. 'child-runs:' .. ARGV[5], ARGV[2]) end
return 1
`;

/**
 * Fills job-ended:<job> for runs of that job (ARGV[3..]) that `ended` holds: data committed
 * before the index existed. Reads `ended` in the script, so a run pruned meanwhile (the
 * delete script is atomic too) is not put back. Returns how many it added.
 */
export const JOB_ENDED_FILL_SCRIPT = `
local p = ARGV[1]
local key = p .. 'job-ended:' .. ARGV[2]
local n = 0
for i = 3, #ARGV do
  local s = redis.call('ZSCORE', p .. 'ended', ARGV[i])
  if s then
    n = n + redis.call('ZADD', key, s, ARGV[i])
  end
end
return n
`;

/**
 * Job deletion, in three scripts so a job with 100k runs does not hold Redis for seconds in
 * one, yet atomic with respect to commits: BEGIN sets `deleting:<job>` (the commit script
 * refuses every batch touching the job while it exists), CHUNK deletes runs one slice at a
 * time, END deletes the job and the fence. Each checks the fence still holds the caller's
 * token, so a deleter paused past the fence's ttl (a commit may have landed since) stops
 * rather than deleting what it no longer guards.
 */
export const FORGET_BEGIN_SCRIPT = `
local p = ARGV[1]
if redis.call('SISMEMBER', p .. 'jobs', ARGV[2]) == 0 then return 'absent' end
if not redis.call('SET', p .. 'deleting:' .. ARGV[2], ARGV[3], 'NX', 'PX', ARGV[4]) then return 'busy' end
return 'ok'
`;

/**
 * Deletes up to ARGV[4] runs of the job, the oldest first, and at most ARGV[5] events: each
 * run's events (log entries, receive-time index, event ids), then, once none is left, the
 * run (snapshot, event list, child index, index entries, its place in job-runs:<job>, which
 * is the cursor: a deletion cut short goes on where it stopped). Renews the fence.
 * Returns {'ok', runs, events, highest revision deleted, runs left}, or {'lost'}.
 */
export const FORGET_CHUNK_SCRIPT = `
local p = ARGV[1]
local job = ARGV[2]
local fence = p .. 'deleting:' .. job
if redis.call('GET', fence) ~= ARGV[3] then return {'lost'} end
redis.call('PEXPIRE', fence, ARGV[6])
local budget = tonumber(ARGV[5])
local runs, events, top = 0, 0, 0
for _, id in ipairs(redis.call('ZRANGE', p .. 'job-runs:' .. job, 0, tonumber(ARGV[4]) - 1)) do
  if budget <= 0 then break end
  local rek = p .. 'run-events:' .. id
  local seqs = redis.call('ZRANGE', rek, 0, budget - 1)
  if #seqs > 0 then
    -- One command per kind for the run's events: one per event took 2.8-3.4 s for 120k events, this 0.9 s.
    local ids = {}
    for _, d in ipairs(redis.call('HMGET', p .. 'ev', unpack(seqs))) do
      if d then
        local e = cjson.decode(d)
        if type(e.event_id) == 'string' then ids[#ids + 1] = e.event_id end
      end
    end
    if #ids > 0 then redis.call('HDEL', p .. 'eventids', unpack(ids)) end
    redis.call('HDEL', p .. 'ev', unpack(seqs))
    redis.call('ZREM', p .. 'ev-by-recv', unpack(seqs))
    redis.call('ZREM', rek, unpack(seqs))
  end
  events = events + #seqs
  budget = budget - #seqs
  if redis.call('EXISTS', rek) == 1 then break end
  local k = p .. 'run:' .. id
  local snap = redis.call('HMGET', k, 'v', 'd')
  if snap[1] and tonumber(snap[1]) > top then top = tonumber(snap[1]) end
  if snap[2] then
    local parent = cjson.decode(snap[2]).parent_run_id
    if type(parent) == 'string' then redis.call('ZREM', p .. 'child-runs:' .. parent, id) end
  end
  redis.call('DEL', k, p .. 'child-runs:' .. id)
  redis.call('ZREM', p .. 'runs', id)
  redis.call('ZREM', p .. 'ended', id)
  redis.call('SREM', p .. 'unfinished', id)
  redis.call('ZREM', p .. 'job-ended:' .. job, id)
  redis.call('ZREM', p .. 'succeeded:' .. job, id)
  redis.call('ZREM', p .. 'job-runs:' .. job, id)
  runs = runs + 1
end
return {'ok', runs, events, string.format('%.0f', top), redis.call('ZCARD', p .. 'job-runs:' .. job)}
`;

/**
 * Deletes the job once it has no runs left, with a `removed` entry on the change stream that
 * carries the highest revision deleted (`removed_v`, the job's or ARGV[6], its runs'): a
 * replica holding the job at a higher one holds it as started afresh after the deletion,
 * and keeps it; and in `deleted:<job>` for ARGV[8] ms, for the commit script to tell a
 * writer that has not followed the removal yet. Then the fence. ARGV[7] is the JSON list of
 * names for `removed`.
 * Returns {'ok', removed_v}, {'lost'} or {'more'}.
 */
export const FORGET_END_SCRIPT = `
local p = ARGV[1]
local job = ARGV[2]
local fence = p .. 'deleting:' .. job
if redis.call('GET', fence) ~= ARGV[3] then return {'lost'} end
if redis.call('ZCARD', p .. 'job-runs:' .. job) > 0 then return {'more'} end
local top = tonumber(ARGV[6])
local v = tonumber(redis.call('HGET', p .. 'job:' .. job, 'v') or '0')
if v > top then top = v end
top = string.format('%.0f', top)
redis.call('DEL', p .. 'job:' .. job, p .. 'job-runs:' .. job, p .. 'job-ended:' .. job, p .. 'succeeded:' .. job)
redis.call('SREM', p .. 'jobs', job)
redis.call('XADD', p .. 'changes', 'MAXLEN', '~', ARGV[4], '*', 'origin', ARGV[5], 'runs', '[]', 'jobs', '[]',
  'removed', ARGV[7], 'removed_v', top)
redis.call('SET', p .. 'deleted:' .. job, top, 'PX', ARGV[8])
redis.call('DEL', fence)
return {'ok', top}
`;
