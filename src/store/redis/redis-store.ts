/**
 * The shared Store on Redis (ioredis) for scale-out: several replicas commit to one Redis
 * and converge through its change stream. Layout and the atomic commit are in
 * commit-script.ts. Guarantees beyond the Store contract:
 *
 * - A commit is one Lua script: all-or-nothing, acknowledged only after Redis has run it.
 *   How durable that is depends on Redis' AOF setting (README, "Scale-out").
 * - Runs and jobs carry revisions (store.ts REVISION); a commit built on an old revision
 *   is refused with StoreConflictError and the writer reduces again on fresh snapshots,
 *   so two replicas updating one run or job never lose an update. Revisions come from
 *   Redis' clock (commit-script.ts), so they do not repeat after Redis lost writes.
 * - `follow` tails the `changes` stream and re-reads the snapshots other replicas changed.
 *
 * Commands fail fast while Redis is unreachable (no offline queue), so pushes get 503
 * instead of hanging; ioredis reconnects by itself and the next commit succeeds.
 * Not for Redis Cluster: the script touches keys it computes from the prefix.
 */
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { Job } from '../../domain/job.js';
import type { JobEvent } from '../../domain/job-event.js';
import { runDurationSeconds, type Run } from '../../domain/run.js';
import { DeletionCutShortError, FencedWriteError, JobBeingDeletedError, NotFoundError } from '../../domain/errors.js';
import {
  revisionOf,
  setRevision,
  StoreConflictError,
  StoreJobLimitError,
  type CommitBatch,
  type FinishedRun,
  type RemoteChange,
  type RunQuery,
  type Store,
  type StoredEvent,
  type Success,
} from '../store.js';
import { COMMIT_SCRIPT, DELETE_RUN_SCRIPT, FORGET_BEGIN_SCRIPT, FORGET_CHUNK_SCRIPT, FORGET_END_SCRIPT, JOB_ENDED_FILL_SCRIPT } from './commit-script.js';
import { createRedisGroups } from './redis-groups.js';
import { followStream } from './follow-stream.js';
import { decodeCursor, encodeCursor } from '../run-cursor.js';
import { mapUnavailable, outcomeUnknown } from './unavailable.js';

export interface RedisStoreOptions {
  url: string;
  key_prefix: string;
  password?: string;
  tls?: boolean;
  /** Entries the change stream keeps; a replica further behind than this must restart. */
  changes_max_len?: number;
  /** Called when following fails (Redis down); the follower retries by itself. */
  onFollowError?: (err: unknown) => void;
  /** Told once the per-job index of ended runs was filled for data written before it (a pass at start, in the background). */
  onIndexFilled?: (info: { jobs: number; runs: number; ms: number }) => void;
  onIndexFillError?: (err: unknown) => void;
  /** How long a command may wait for Redis' answer before it fails (ms, default 5000). */
  command_timeout_ms?: number;
}

type Commands = Redis & {
  jpCommit(prefix: string, payload: string, maxLen: string): Promise<string[]>;
  jpDeleteRun(prefix: string, runId: string, rev: string, job: string, parent: string): Promise<number>;
  jpFillJobEnded(prefix: string, job: string, ...runIds: string[]): Promise<number>;
  jpForgetBegin(prefix: string, job: string, token: string, ttlMs: string): Promise<'ok' | 'absent' | 'busy'>;
  jpForgetChunk(prefix: string, job: string, token: string, runs: string, events: string, ttlMs: string): Promise<(string | number)[]>;
  jpForgetEnd(prefix: string, job: string, token: string, maxLen: string, origin: string, top: string, removed: string, keepMs: string): Promise<string[]>;
};


const CHUNK = 500;
const IN_DOUBT_MAX = 10_000;
/**
 * A job deletion's fence lives this long past its last step: a replica that dies mid-deletion
 * holds the job's commits up for at most this; one step takes milliseconds.
 */
const FORGET_FENCE_TTL_MS = 5000;
/** Events one deletion step removes at most: each step holds Redis (and every commit) meanwhile. */
const FORGET_EVENTS_PER_STEP = 2000;
/** How often a commit refused by a deletion looks whether the deletion is over. */
const DELETION_POLL_MS = 10;
/** How long a deleted job's last revision is kept (`deleted:<job>`): far longer than any replica lags behind the change stream. */
const DELETED_KEEP_MS = 60_000;

/** The event as the log keeps it. Copied with Object.assign: a spread with added properties is slow on Node 20. */
function storedEvent(event: JobEvent, applied: boolean, reason: string | undefined): Omit<StoredEvent, 'seq'> {
  const e = Object.assign({}, event) as Omit<StoredEvent, 'seq'>;
  e.applied = applied;
  if (reason !== undefined) e.reason = reason;
  return e;
}

export function redisOptions(o: Pick<RedisStoreOptions, 'password' | 'tls' | 'command_timeout_ms'>): RedisOptions {
  return {
    lazyConnect: true,
    // Fail fast while disconnected: a push must get 503 now, not wait for a reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: o.command_timeout_ms ?? 5000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.tls ? { tls: {} } : {}),
  };
}

export async function createRedisStore(opts: RedisStoreOptions): Promise<Store> {
  const p = opts.key_prefix;
  const maxLen = String(opts.changes_max_len ?? 100_000);
  const origin = randomUUID();
  const redis = new Redis(opts.url, redisOptions(opts)) as Commands;
  redis.defineCommand('jpCommit', { numberOfKeys: 0, lua: COMMIT_SCRIPT });
  redis.defineCommand('jpDeleteRun', { numberOfKeys: 0, lua: DELETE_RUN_SCRIPT });
  redis.defineCommand('jpFillJobEnded', { numberOfKeys: 0, lua: JOB_ENDED_FILL_SCRIPT });
  redis.defineCommand('jpForgetBegin', { numberOfKeys: 0, lua: FORGET_BEGIN_SCRIPT });
  redis.defineCommand('jpForgetChunk', { numberOfKeys: 0, lua: FORGET_CHUNK_SCRIPT });
  redis.defineCommand('jpForgetEnd', { numberOfKeys: 0, lua: FORGET_END_SCRIPT });
  // ioredis logs unhandled 'error' events to stderr; failures surface through commands instead.
  // The last one is kept for start-up: a server that refuses the connection's first command
  // (NOAUTH, WRONGPASS) hangs up, and connect() then rejects with only "Connection is closed.".
  let connectError: Error | undefined;
  redis.on('error', (e: Error) => {
    connectError = e;
  });
  try {
    await redis.connect();
  } catch (err) {
    // Else the client keeps reconnecting and holds the process open past 'cannot start'.
    redis.disconnect();
    throw connectError && err instanceof Error && connectError.message !== err.message ? new Error(`${err.message} ${connectError.message}`, { cause: err }) : err;
  }
  connectError = undefined;

  let closed = false;
  let follower: Redis | undefined;
  /** Change-stream position read before loadState's snapshots: following starts there. */
  let followFrom = '$';
  // Not `write`: its one caller (the Pushgateway API) answers every failure with 503 already.
  const groups = mapUnavailable(createRedisGroups({ redis, prefix: p, maxLen, onFollowError: opts.onFollowError }), ['write']);
  /**
   * Commits are tagged `<origin>:<n>` on the change stream. The follower skips this replica's
   * own entries (it published those snapshots when the commit was answered), except for the
   * commits named here: they failed with their outcome unknown (a timeout, a connection lost
   * while waiting), nothing was published, and Redis may still have run them.
   */
  let commits = 0;
  const inDoubt = new Set<string>();

  /**
   * The highest revision this replica has read or written, sent with every commit: the script
   * writes revisions above it, so they stay unique even if Redis' clock steps back after a loss.
   */
  let seen = 0;
  const parseSnap = <T extends object>(v: string | null | undefined, d: string | null | undefined): T | undefined => {
    if (d === null || d === undefined) return undefined;
    const o = JSON.parse(d) as T;
    const rev = Number(v ?? 0);
    if (rev > seen) seen = rev;
    setRevision(o, rev);
    return o;
  };

  async function readMany<T extends object>(kind: 'run' | 'job', ids: string[]): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = ids.slice(i, i + CHUNK);
      const pipe = redis.pipeline();
      for (const id of part) pipe.hmget(`${p}${kind}:${id}`, 'v', 'd');
      const res = (await pipe.exec()) ?? [];
      res.forEach(([err, val], k) => {
        if (err) throw err;
        const [v, d] = val as [string | null, string | null];
        const o = parseSnap<T>(v, d);
        if (o) out.set(part[k] as string, o);
      });
    }
    return out;
  }
  const readRuns = (ids: string[]): Promise<Map<string, Run>> => readMany<Run>('run', ids);
  const successesOf = (ids: string[], runs: Map<string, Run>): Success[] =>
    ids.map((id) => runs.get(id)).flatMap((r) => (r?.ended_at !== undefined ? [{ ended_at: r.ended_at, duration_seconds: runDurationSeconds(r) ?? 0 }] : []));
  /**
   * A job's newest `limit` distinct (end, duration) pairs, newest first, ties by duration: the
   * window the learned baselines keep in memory (history/baselines.ts) and SQLite reads back.
   * succeeded:<job> orders equal ends by run id and holds a pair once per run, so its newest
   * `limit` ids alone held a short window or the wrong one of two runs ending together, and
   * job_expected_duration_seconds changed across a restart. It is read `limit + 1` ids at a
   * time (WITHSCORES) until `limit` pairs end after the last score read: nothing further can
   * come before them. `addSuccesses` takes one such page and says whether to read on.
   */
  const addSuccesses = (pairs: Map<string, Success>, flat: string[], runs: Map<string, Run>, limit: number): boolean => {
    const ids = flat.filter((_, i) => i % 2 === 0);
    for (const s of successesOf(ids, runs)) pairs.set(`${s.ended_at} ${s.duration_seconds}`, s);
    const last = Number(flat[flat.length - 1]);
    return ids.length > limit && [...pairs.values()].filter((s) => s.ended_at > last).length < limit;
  };
  const newestSuccesses = (pairs: Map<string, Success>, limit: number): Success[] =>
    [...pairs.values()].sort((a, b) => b.ended_at - a.ended_at || b.duration_seconds - a.duration_seconds).slice(0, limit);
  const successPage = (jobName: string, offset: number, limit: number): Promise<string[]> =>
    redis.zrevrange(`${p}succeeded:${jobName}`, offset, offset + limit, 'WITHSCORES');
  const recentSuccessesOf = async (jobName: string, limit: number): Promise<Success[]> => {
    const pairs = new Map<string, Success>();
    for (let offset = 0; ; offset += limit + 1) {
      const flat = await successPage(jobName, offset, limit);
      if (!addSuccesses(pairs, flat, await readRuns(flat.filter((_, i) => i % 2 === 0)), limit)) break;
    }
    return newestSuccesses(pairs, limit);
  };
  const readJobs = (names: string[]): Promise<Map<string, Job>> => readMany<Job>('job', names);
  /** Set once job-ended:<job> holds every ended run (filled at start for older data, below). */
  let indexed = false;
  /**
   * Ids of one job's runs that ended in [since, until), from the job's own index by end time.
   * The window of `ended` holds every job's runs (a job page, refreshed every 10 s, read the
   * week of 2,000 jobs), and looking up the end of each of the job's runs read its whole
   * history: 61 ms per page at 5k runs, 668 ms at 50k (a job run every minute for a month);
   * 3–4 ms from the index. Until the index is filled, that lookup is still the way.
   */
  const endedRunsOfJob = async (jobName: string, since: number, until: number): Promise<string[]> => {
    if (indexed) return redis.zrangebyscore(`${p}job-ended:${jobName}`, since, `(${until}`);
    const all = await redis.zrange(`${p}job-runs:${jobName}`, 0, -1);
    const out: string[] = [];
    for (let i = 0; i < all.length; i += CHUNK) {
      const part = all.slice(i, i + CHUNK);
      const pipe = redis.pipeline();
      for (const id of part) pipe.zscore(`${p}ended`, id);
      ((await pipe.exec()) ?? []).forEach(([err, val], k) => {
        if (err) throw err;
        if (val === null) return;
        const ended = Number(val);
        if (ended >= since && ended < until) out.push(part[k] as string);
      });
    }
    return out;
  };

  /**
   * Data committed before job-ended:<job> existed: each job's runs that `ended` holds go into
   * it, CHUNK at a time, once per Redis (the mark is set after the pass; replicas starting
   * together each fill, which is idempotent). Commits maintain the index from then on. Runs
   * in the background: 200k runs of 1,000 jobs took 4.3 s, which start-up should not wait for.
   */
  const mark = `${p}index:job-ended`;
  const fillJobEnded = async (): Promise<void> => {
    const t0 = performance.now();
    const names = await redis.smembers(`${p}jobs`);
    let runs = 0;
    for (const name of names) {
      if (closed) return;
      const ids = await redis.zrange(`${p}job-runs:${name}`, 0, -1);
      for (let i = 0; i < ids.length; i += CHUNK) runs += await redis.jpFillJobEnded(p, name, ...ids.slice(i, i + CHUNK));
    }
    await redis.set(mark, String(Date.now()));
    indexed = true;
    if (names.length > 0) opts.onIndexFilled?.({ jobs: names.length, runs, ms: performance.now() - t0 });
  };
  if ((await redis.exists(mark)) === 1) indexed = true;
  else if ((await redis.scard(`${p}jobs`)) === 0) {
    // A new deployment: nothing to fill, the commits will keep the index.
    await redis.set(mark, String(Date.now()));
    indexed = true;
  }
  // A failure (Redis gone) leaves the lookup in use; the next start fills again.
  else
    void fillJobEnded().catch((err: unknown) => {
      if (!closed) opts.onIndexFillError?.(err);
    });

  const store: Store = {
    kind: 'redis',
    groups,

    async loadState() {
      const last = await redis.xrevrange(`${p}changes`, '+', '-', 'COUNT', 1);
      followFrom = last[0]?.[0] ?? '0-0';
      const jobs = [...(await readJobs(await redis.smembers(`${p}jobs`))).values()];
      const ids = new Set(await redis.smembers(`${p}unfinished`));
      for (const j of jobs) ids.add(j.latest_run_id);
      return { jobs, runs: [...(await readRuns([...ids])).values()] };
    },

    async findEvents(ids) {
      const out = new Map<string, { run_id: string }>();
      if (ids.length === 0) return out;
      const runs = await redis.hmget(`${p}eventids`, ...ids);
      runs.forEach((r, i) => {
        if (r !== null) out.set(ids[i] as string, { run_id: r });
      });
      return out;
    },

    getRuns: readRuns,

    async commit(batch: CommitBatch) {
      const cid = `${origin}:${++commits}`;
      const payload = {
        origin: cid,
        events: batch.events.map(({ event, applied, reason }) => ({
          id: event.event_id,
          run: event.run_id,
          job: event.job_name,
          recv: event.received_at,
          data: JSON.stringify(storedEvent(event, applied, reason)),
        })),
        runs: batch.runs.map((r) => ({
          id: r.run_id,
          job: r.job_name,
          parent: r.parent_run_id,
          created: r.created_at,
          ended: r.ended_at,
          succeeded: r.state === 'succeeded' && r.ended_at !== undefined && runDurationSeconds(r) !== undefined ? true : undefined,
          expect: revisionOf(r),
          data: JSON.stringify(r),
        })),
        jobs: batch.jobs.map((j) => ({ name: j.job_name, expect: revisionOf(j), data: JSON.stringify(j) })),
        run_ids: JSON.stringify(batch.runs.map((r) => r.run_id)),
        job_names: JSON.stringify(batch.jobs.map((j) => j.job_name)),
        ...(batch.fence ? { fence: batch.fence } : {}),
        ...(batch.maxJobs !== undefined ? { max_jobs: batch.maxJobs } : {}),
        seen,
      };
      let res: string[];
      try {
        res = await redis.jpCommit(p, JSON.stringify(payload), maxLen);
      } catch (err) {
        if (outcomeUnknown(err)) {
          // Bounded: a commit Redis never ran leaves its id here for good. Dropping the oldest
          // only risks missing a commit that stayed unanswered across this many others.
          if (inDoubt.size >= IN_DOUBT_MAX) inDoubt.delete(inDoubt.values().next().value as string);
          inDoubt.add(cid);
        }
        throw err;
      }
      if (res[0] === 'fenced') throw new FencedWriteError(batch.fence?.lease ?? '', batch.fence?.token, Number(res[1]));
      if (res[0] === 'too_many_jobs') throw new StoreJobLimitError(Number(res[1]));
      if (res[0] === 'deleting') {
        // Another replica is deleting jobs of the batch. Waiting here holds this replica's
        // commits, as the deleting replica's are held: the batch is then reduced again on the
        // jobs gone (started afresh), not refused — nor committed between the deletion's steps.
        const names = res.slice(1);
        const fences = names.map((n) => `${p}deleting:${n}`);
        while (!closed && (await redis.exists(...fences)) > 0) await new Promise((r) => setTimeout(r, DELETION_POLL_MS));
        const [runs, jobs] = await Promise.all([readRuns(batch.runs.map((r) => r.run_id)), readJobs(batch.jobs.map((j) => j.job_name))]);
        throw new StoreConflictError(
          names.map((n) => `deleting:${n}`),
          { jobs: [...jobs.values()], runs: [...runs.values()] },
          names,
        );
      }
      if (res[0] === 'conflict') {
        const [runs, jobs] = await Promise.all([readRuns(batch.runs.map((r) => r.run_id)), readJobs(batch.jobs.map((j) => j.job_name))]);
        const keys = res.slice(1);
        const removed = keys.flatMap((k) => (k.startsWith('removed:') ? [k.slice('removed:'.length)] : []));
        throw new StoreConflictError(keys, { jobs: [...jobs.values()], runs: [...runs.values()] }, removed);
      }
      // The objects the writer publishes now carry the revision they were stored with (the
      // script's rule: expect + 1, or its base if higher).
      const base = Number(res[1]);
      const stamp = (o: object): void => {
        const rev = Math.max(revisionOf(o) + 1, base);
        if (rev > seen) seen = rev;
        setRevision(o, rev);
      };
      batch.runs.forEach(stamp);
      batch.jobs.forEach(stamp);
    },

    async getRun(id) {
      return (await readRuns([id])).get(id);
    },

    async listRuns(q: RunQuery) {
      const index =
        q.parent_run_id !== undefined ? `${p}child-runs:${q.parent_run_id}` : q.job_name !== undefined ? `${p}job-runs:${q.job_name}` : `${p}runs`;
      const states = q.states && q.states.length > 0 ? new Set(q.states) : undefined;
      const cur = q.cursor ? decodeCursor(q.cursor) : undefined;
      const max = cur ? String(cur.created_at) : '+inf';
      const out: Run[] = [];
      // Newest first: equal scores come back in reverse member order, i.e. run_id DESC.
      for (let offset = 0; out.length <= q.limit; offset += CHUNK) {
        const ids = await redis.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, CHUNK);
        if (ids.length === 0) break;
        const page: string[] = [];
        for (let i = 0; i < ids.length; i += 2) {
          const id = ids[i] as string;
          if (cur && Number(ids[i + 1]) === cur.created_at && id >= cur.run_id) continue;
          page.push(id);
        }
        const runs = await readRuns(page);
        for (const id of page) {
          const r = runs.get(id);
          if (!r) continue;
          if (q.job_name !== undefined && r.job_name !== q.job_name) continue;
          if (q.parent_run_id !== undefined && r.parent_run_id !== q.parent_run_id) continue;
          if (states && !states.has(r.state)) continue;
          out.push(r);
          if (out.length > q.limit) break;
        }
        if (ids.length < 2 * CHUNK) break;
      }
      const runs = out.slice(0, q.limit);
      const last = runs[runs.length - 1];
      return out.length > q.limit && last ? { runs, next_cursor: encodeCursor(last.created_at, last.run_id) } : { runs };
    },

    async listEvents(runId) {
      const seqs = await redis.zrange(`${p}run-events:${runId}`, 0, -1);
      if (seqs.length === 0) return [];
      const data = await redis.hmget(`${p}ev`, ...seqs);
      const out: StoredEvent[] = [];
      data.forEach((d, i) => {
        if (d === null) return;
        const e = JSON.parse(d) as StoredEvent;
        e.seq = Number(seqs[i]);
        out.push(e);
      });
      return out;
    },

    async finishedRuns(q) {
      const ids = q.job_name !== undefined ? await endedRunsOfJob(q.job_name, q.since, q.until) : await redis.zrangebyscore(`${p}ended`, q.since, `(${q.until}`);
      const out: FinishedRun[] = [];
      // A chunk at a time, keeping only what statistics need: a week of 100k runs read whole
      // held ~1 KB of parsed run per run until the last chunk had arrived.
      for (let i = 0; i < ids.length; i += CHUNK) {
        for (const r of (await readRuns(ids.slice(i, i + CHUNK))).values()) {
          if (q.job_name !== undefined && r.job_name !== q.job_name) continue;
          if (r.ended_at === undefined) continue;
          out.push({ job_name: r.job_name, state: r.state, ended_at: r.ended_at, duration_seconds: runDurationSeconds(r) ?? null });
        }
      }
      return out;
    },

    async recentSuccesses(jobName, limit) {
      return recentSuccessesOf(jobName, limit);
    },

    async childRuns(parentIds) {
      // Pipelined per CHUNK parents: start-up asks for the children of every open run.
      const out: Run[] = [];
      for (let i = 0; i < parentIds.length; i += CHUNK) {
        const pipe = redis.pipeline();
        for (const id of parentIds.slice(i, i + CHUNK)) pipe.zrange(`${p}child-runs:${id}`, 0, -1);
        const ids = ((await pipe.exec()) ?? []).flatMap(([err, val]) => {
          if (err) throw err;
          return val as string[];
        });
        if (ids.length > 0) out.push(...(await readRuns(ids)).values());
      }
      return out;
    },

    async recentSuccessesOfAll(limit) {
      // Pipelined per CHUNK jobs: one round trip per job made start-up wait on the network.
      const names = await redis.smembers(`${p}jobs`);
      const out = new Map<string, Success[]>();
      for (let i = 0; i < names.length; i += CHUNK) {
        const part = names.slice(i, i + CHUNK);
        const pipe = redis.pipeline();
        for (const n of part) pipe.zrevrange(`${p}succeeded:${n}`, 0, limit, 'WITHSCORES');
        const pages = ((await pipe.exec()) ?? []).map(([err, val]) => {
          if (err) throw err;
          return val as string[];
        });
        const runs = await readRuns(pages.flatMap((flat) => flat.filter((_, i) => i % 2 === 0)));
        for (const [k, n] of part.entries()) {
          const pairs = new Map<string, Success>();
          // Rare (equal pairs or ends where the window cuts): only such a job reads on alone.
          const list = addSuccesses(pairs, pages[k] ?? [], runs, limit) ? await recentSuccessesOf(n, limit) : newestSuccesses(pairs, limit);
          if (list.length > 0) out.set(n, list);
        }
      }
      return out;
    },

    async prune(q) {
      let events = 0;
      for (;;) {
        const seqs = await redis.zrangebyscore(`${p}ev-by-recv`, '-inf', `(${q.eventsBefore}`, 'LIMIT', 0, CHUNK);
        if (seqs.length === 0) break;
        const data = await redis.hmget(`${p}ev`, ...seqs);
        const tx = redis.multi();
        seqs.forEach((s, i) => {
          const d = data[i];
          if (d !== null && d !== undefined) {
            const e = JSON.parse(d) as StoredEvent;
            tx.zrem(`${p}run-events:${e.run_id}`, s);
            tx.hdel(`${p}eventids`, e.event_id);
          }
          tx.hdel(`${p}ev`, s);
          tx.zrem(`${p}ev-by-recv`, s);
        });
        await tx.exec();
        events += seqs.length;
      }
      let runs = 0;
      let offset = 0;
      for (;;) {
        const ids = await redis.zrangebyscore(`${p}ended`, '-inf', `(${q.runsBefore}`, 'LIMIT', offset, CHUNK);
        if (ids.length === 0) break;
        const snaps = await readRuns(ids);
        // Sent together (one pipeline): awaited one by one, a round trip per run made 30k runs 4-5 s.
        const counts = await Promise.all([...snaps.values()].map((r) => redis.jpDeleteRun(p, r.run_id, String(revisionOf(r)), r.job_name, r.parent_run_id ?? '')));
        const deleted = counts.reduce((a, b) => a + b, 0);
        runs += deleted;
        // Kept runs (each job's latest) stay in the index: step over them.
        offset += ids.length - deleted;
        if (ids.length < CHUNK) break;
      }
      return { events, runs };
    },

    async forgetJob(name) {
      // Fenced (commit-script.ts, FORGET_*): while `deleting:<name>` holds this deletion's token,
      // every commit touching the job is refused, so none lands between the steps below and
      // leaves runs or events of no job. Step by step, not one script: a job with 100k runs
      // would hold Redis for seconds.
      const token = randomUUID();
      const ttl = String(FORGET_FENCE_TTL_MS);
      const begun = await redis.jpForgetBegin(p, name, token, ttl);
      // Gone, or being deleted by another replica (each runs retention.jobs on the same
      // schedule): its deletion, counted there once, not by every replica that raced it.
      if (begun === 'absent') throw new NotFoundError(`job ${JSON.stringify(name)} was deleted meanwhile (by another replica)`);
      if (begun === 'busy') throw new JobBeingDeletedError(`job ${JSON.stringify(name)} is being deleted (by another replica)`);
      const lost = (): Error => new DeletionCutShortError(`deleting job ${JSON.stringify(name)}: its fence expired (this replica stalled for ${ttl} ms); delete it again`);
      let runs = 0;
      let events = 0;
      let top = 0;
      let done: string[];
      do {
        for (;;) {
          const res = await redis.jpForgetChunk(p, name, token, String(CHUNK), String(FORGET_EVENTS_PER_STEP), ttl);
          if (res[0] !== 'ok') throw lost();
          runs += Number(res[1]);
          events += Number(res[2]);
          top = Math.max(top, Number(res[3]));
          if (Number(res[4]) === 0) break;
        }
        // 'more': a run added meanwhile by a replica of a version without the fence.
        done = await redis.jpForgetEnd(p, name, token, maxLen, origin, String(top), JSON.stringify([name]), String(DELETED_KEEP_MS));
      } while (done[0] === 'more');
      if (done[0] !== 'ok') throw lost();
      const revision = Number(done[1]);
      // The job started afresh here must be newer than all it replaced (RemoteChange.removedAt).
      if (revision > seen) seen = revision;
      return { runs, events, revision };
    },

    async ping() {
      if (closed) throw new Error('store is closed');
      // A write, not PING: Redis refuses writes (MISCONF, OOM, a read-only replica after a
      // failover) while it still answers PING.
      await redis.set(`${p}write-probe`, String(Date.now()));
    },

    follow(onChange: (change: RemoteChange) => void) {
      if (follower) throw new Error('already following');
      follower = followStream({
        redis,
        stream: `${p}changes`,
        from: followFrom,
        closed: () => closed,
        ...(opts.onFollowError ? { onError: opts.onFollowError } : {}),
        async handle(entries) {
          const runIds = new Set<string>();
          const jobNames = new Set<string>();
          const removed = new Set<string>();
          const removedAt: Record<string, number> = {};
          const settled: string[] = [];
          for (const e of entries) {
            // A commit's origin is `<origin>:<n>`, a deletion's the bare origin. This replica's
            // own deletions are applied too: another replica's commit that started the job
            // afresh may have reached memory first, and the old job's runs must still go.
            if (e.origin !== undefined && e.origin !== origin && e.origin.startsWith(origin)) {
              if (inDoubt.size === 0 || !inDoubt.has(e.origin)) continue;
              settled.push(e.origin);
            }
            for (const r of JSON.parse(e.runs ?? '[]') as string[]) runIds.add(r);
            for (const j of JSON.parse(e.jobs ?? '[]') as string[]) jobNames.add(j);
            for (const j of JSON.parse(e.removed ?? '[]') as string[]) {
              removed.add(j);
              if (e.removed_v === undefined) continue;
              removedAt[j] = Math.max(removedAt[j] ?? 0, Number(e.removed_v));
              if (removedAt[j] > seen) seen = removedAt[j];
            }
          }
          if (runIds.size === 0 && jobNames.size === 0 && removed.size === 0) return;
          // Snapshots read after the removal: a job deleted and pushed again comes back anew.
          const [runs, jobs] = await Promise.all([readRuns([...runIds]), readJobs([...jobNames])]);
          // Only now: a failed read has the same entries delivered again.
          for (const c of settled) inDoubt.delete(c);
          onChange({ jobs: [...jobs.values()], runs: [...runs.values()], ...(removed.size > 0 ? { removed: [...removed], removedAt } : {}) });
        },
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      follower?.disconnect();
      groups.close();
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
    },
  };
  // A read failing on a lost connection must reach the routes as StoreUnavailableError (503),
  // like a failed commit does, not as the raw ioredis error (500).
  return mapUnavailable(store);
}
