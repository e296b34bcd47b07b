/**
 * The Store contract (src/store/store.ts), run unchanged against every adapter: SQLite on
 * a temp file and a real redis-server with a fresh key prefix per test.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/domain/job.js';
import type { EventType } from '../../src/domain/job-event.js';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { summarizeWindow, windowSummary } from '../../src/history/stats.js';
import type { CommitBatch, Store } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter as Writer } from '../support/store-writer.js';
import { tempDir } from '../support/temp-dir.js';

interface Adapter {
  name: string;
  available: boolean;
  setup(): Promise<void>;
  open(): Promise<{ store: Store; cleanup: () => void }>;
  teardown(): Promise<void>;
}

let redis: TestRedis | undefined;
const ADAPTERS: Adapter[] = [
  {
    name: 'sqlite',
    available: true,
    setup: async () => undefined,
    async open() {
      const dir = tempDir();
      // Tiny prune slices: the prune case below crosses several of them.
      return { store: createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process', pruneSlice: 2, pruneRuns: 1 }), cleanup: dir.cleanup };
    },
    teardown: async () => undefined,
  },
  {
    name: 'redis',
    available: hasBinary('redis-server', 'redis-server'),
    async setup() {
      redis = await startRedis();
    },
    async open() {
      const store = await createRedisStore({ url: (redis as TestRedis).url, key_prefix: `t-${randomUUID()}:` });
      return { store, cleanup: () => undefined };
    },
    async teardown() {
      await redis?.cleanup();
    },
  },
];

const T0 = Date.UTC(2026, 10, 23, 12);

/** run `id` of `job` started at `at` and (optionally) finished `dur` ms later. */
const finished = (w: Writer, id: string, job: string, at: number, dur: number, outcome: EventType = 'succeeded', parent?: string): CommitBatch =>
  w.batch([
    { run: id, job, event: 'started', at, ...(parent ? { parent } : {}) },
    { run: id, job, event: outcome, at: at + dur },
  ]);

describe.each(ADAPTERS)('Store conformance: $name', (adapter) => {
  let store: Store;
  let cleanup: () => void;
  let w: Writer;
  beforeAll(() => adapter.setup());
  afterAll(() => adapter.teardown());
  beforeEach(async () => {
    if (!adapter.available) return;
    ({ store, cleanup } = await adapter.open());
    w = new Writer();
  });
  afterEach(async () => {
    if (!adapter.available) return;
    await store.close();
    cleanup();
  });

  describe.skipIf(!adapter.available)('contract', () => {
    it('loadState returns every job, every unfinished run and each job latest run, not older finished runs', async () => {
      await store.commit(finished(w, 'a1', 'a', T0, 1000));
      await store.commit(finished(w, 'a2', 'a', T0 + 10_000, 1000));
      await store.commit(w.batch([{ run: 'b1', job: 'b', event: 'started', at: T0 }]));
      await store.commit(w.batch([{ run: 'b0', job: 'b', event: 'queued', at: T0 - 5000 }]));
      const s = await store.loadState();
      expect(s.jobs.map((j) => j.job_name).sort()).toEqual(['a', 'b']);
      expect(s.runs.map((r) => r.run_id).sort()).toEqual(['a2', 'b0', 'b1']);
      const a = s.jobs.find((j) => j.job_name === 'a') as Job;
      expect(a.latest_run_id).toBe('a2');
      expect(a.runs_total.succeeded).toBe(2);
    });

    it('forgetJob deletes the job, its runs, their events and event ids; other jobs keep theirs', async () => {
      await store.commit(finished(w, 'a1', 'a', T0, 1000));
      await store.commit(finished(w, 'a2', 'a', T0 + 10_000, 1000, 'failed'));
      await store.commit(w.batch([{ run: 'a3', job: 'a', event: 'started', at: T0 + 20_000, id: 'a3-start' }, { run: 'a3', job: 'a', event: 'heartbeat', at: T0 + 21_000 }]));
      await store.commit(finished(w, 'c1', 'a', T0 + 20_500, 100, 'succeeded', 'a3'));
      await store.commit(w.batch([{ run: 'b1', job: 'b', event: 'started', at: T0, id: 'b1-start' }]));
      await store.commit(finished(w, 'b0', 'b', T0 - 5000, 1000));
      // Redis adds the highest revision it deleted.
      expect(await store.forgetJob('a')).toMatchObject({ runs: 4, events: 8 });
      const { jobs, runs } = await store.loadState();
      expect(jobs.map((j) => j.job_name)).toEqual(['b']);
      expect(runs.map((r) => r.run_id).sort()).toEqual(['b1']);
      expect(await store.getRuns(['a1', 'a2', 'a3', 'c1', 'b0'])).toEqual(new Map([['b0', expect.objectContaining({ run_id: 'b0' })]]));
      expect(await store.listEvents('a3')).toEqual([]);
      expect((await store.listRuns({ job_name: 'a', limit: 10 })).runs).toEqual([]);
      expect((await store.listRuns({ parent_run_id: 'a3', limit: 10 })).runs).toEqual([]);
      expect(await store.finishedRuns({ job_name: 'a', since: 0, until: T0 + 100_000 })).toEqual([]);
      expect((await store.finishedRuns({ since: 0, until: T0 + 100_000 })).map((r) => r.job_name)).toEqual(['b']);
      expect(await store.recentSuccesses('a', 10)).toEqual([]);
      // Its event ids are free again; the other job's are still logged.
      expect(await store.findEvents(['a3-start', 'b1-start'])).toEqual(new Map([['b1-start', { run_id: 'b1' }]]));
      expect((await store.listEvents('b1')).map((e) => e.event)).toEqual(['started']);
      // Pushed again, the job starts afresh.
      const again = new Writer();
      await store.commit(finished(again, 'a9', 'a', T0 + 50_000, 1000));
      expect((await store.loadState()).jobs.find((j) => j.job_name === 'a')?.runs_total.succeeded).toBe(1);
    });

    it('commits all or nothing: a batch carrying an already logged event id writes none of its parts', async () => {
      await store.commit(w.batch([{ run: 'r1', event: 'started', at: T0, id: 'dup' }]));
      const bad = w.batch([
        { run: 'r2', job: 'other', event: 'started', at: T0, id: 'fresh' },
        { run: 'r2', job: 'other', event: 'progress', at: T0 + 1, id: 'dup' },
      ]);
      await expect(store.commit(bad)).rejects.toThrow();
      expect(await store.getRun('r2')).toBeUndefined();
      expect((await store.findEvents(['fresh'])).size).toBe(0);
      expect((await store.loadState()).jobs.map((j) => j.job_name)).toEqual(['etl']);
      expect(await store.listEvents('r1')).toHaveLength(1);
    });

    it('findEvents tells which event ids are logged and on which run', async () => {
      await store.commit(w.batch([{ run: 'r1', event: 'started', at: T0, id: 'x' }, { run: 'r1', event: 'heartbeat', at: T0 + 1, id: 'y' }]));
      const found = await store.findEvents(['x', 'y', 'z']);
      expect([...found.entries()].sort()).toEqual([
        ['x', { run_id: 'r1' }],
        ['y', { run_id: 'r1' }],
      ]);
    });

    it('findEvents and getRuns answer for many ids at once, missing and repeated ids included', async () => {
      const n = 40;
      await store.commit(w.batch(Array.from({ length: n }, (_, i) => ({ run: `m${i}`, event: 'started' as const, at: T0 + i, id: `e${i}` }))));
      const eventIds = [...Array.from({ length: n }, (_, i) => `e${i}`), 'e-missing', 'e3'];
      const found = await store.findEvents(eventIds);
      expect(found.size).toBe(n);
      expect(found.get('e17')).toEqual({ run_id: 'm17' });
      expect(found.has('e-missing')).toBe(false);
      const runs = await store.getRuns([...Array.from({ length: n }, (_, i) => `m${i}`), 'missing', 'm5']);
      expect(runs.size).toBe(n);
      expect(runs.get('m29')).toMatchObject({ run_id: 'm29', state: 'running' });
      expect(runs.has('missing')).toBe(false);
    });

    it('returns a run events in commit order with applied flags and reasons', async () => {
      await store.commit(w.batch([{ run: 'r1', event: 'started', at: T0 + 50 }]));
      await store.commit(w.batch([{ run: 'other', event: 'queued', at: T0 }]));
      await store.commit(w.batch([{ run: 'r1', event: 'progress', at: T0 + 10, records: 3 }, { run: 'r1', event: 'succeeded', at: T0 + 60 }]));
      await store.commit(w.batch([{ run: 'r1', event: 'heartbeat', at: T0 + 70 }]));
      const evs = await store.listEvents('r1');
      expect(evs.map((e) => e.event)).toEqual(['started', 'progress', 'succeeded', 'heartbeat']);
      expect(evs.map((e) => e.applied)).toEqual([true, true, true, false]);
      expect(evs[3]?.reason).toMatch(/already succeeded/);
      const seqs = evs.map((e) => e.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(4);
      expect(await store.listEvents('nope')).toEqual([]);
    });

    it('getRun and getRuns return the latest snapshot', async () => {
      await store.commit(w.batch([{ run: 'r1', event: 'started', at: T0 }]));
      await store.commit(w.batch([{ run: 'r1', event: 'progress', at: T0 + 5, records: 7 }]));
      expect((await store.getRun('r1'))?.records_processed).toBe(7);
      const m = await store.getRuns(['r1', 'missing']);
      expect([...m.keys()]).toEqual(['r1']);
    });

    it('pages runs newest first with cursors and filters by job, parent and state', async () => {
      // Equal created_at on purpose: the order breaks ties by run_id, descending.
      await store.commit(finished(w, 'p1', 'a', T0, 1000));
      await store.commit(finished(w, 'p2', 'a', T0 + 1000, 1000, 'failed'));
      await store.commit(w.batch([{ run: 'p3', job: 'a', event: 'started', at: T0 + 1000 }]));
      await store.commit(finished(w, 'p4', 'a', T0 + 3000, 1000));
      await store.commit(finished(w, 'c1', 'a', T0 + 2000, 100, 'succeeded', 'p3'));
      await store.commit(finished(w, 'c2', 'a', T0 + 2000, 100, 'failed', 'p3'));
      await store.commit(finished(w, 'q1', 'b', T0 + 500, 1000));

      const all: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await store.listRuns({ job_name: 'a', limit: 2, ...(cursor ? { cursor } : {}) });
        all.push(...page.runs.map((r) => r.run_id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(all).toEqual(['p4', 'c2', 'c1', 'p3', 'p2', 'p1']);
      expect((await store.listRuns({ limit: 100 })).runs.map((r) => r.run_id)).toEqual(['p4', 'c2', 'c1', 'p3', 'p2', 'q1', 'p1']);
      expect((await store.listRuns({ parent_run_id: 'p3', limit: 100 })).runs.map((r) => r.run_id)).toEqual(['c2', 'c1']);
      // The start-up pass over many parents finds the same children.
      if (store.childRuns) {
        const kids = await store.childRuns(['p3', 'p1', 'nobody']);
        expect(kids.map((r) => `${r.parent_run_id}/${r.run_id}/${r.state}`).sort()).toEqual(['p3/c1/succeeded', 'p3/c2/failed']);
        expect(await store.childRuns([])).toEqual([]);
      }
      expect((await store.listRuns({ job_name: 'a', states: ['failed'], limit: 100 })).runs.map((r) => r.run_id)).toEqual(['c2', 'p2']);
      // Unfinished states only (SQLite reads them through its index of open runs), paged.
      await store.commit(w.batch([{ run: 'p5', job: 'a', event: 'queued', at: T0 + 1000 }, { run: 'p6', job: 'a', event: 'started', at: T0 + 4000 }, { run: 'q2', job: 'b', event: 'started', at: T0 }]));
      const open1 = await store.listRuns({ job_name: 'a', states: ['running', 'queued'], limit: 2 });
      expect(open1.runs.map((r) => r.run_id)).toEqual(['p6', 'p5']);
      const open2 = await store.listRuns({ job_name: 'a', states: ['running', 'queued'], limit: 2, cursor: open1.next_cursor as string });
      expect(open2.runs.map((r) => r.run_id)).toEqual(['p3']);
      expect(open2.next_cursor).toBeUndefined();
      expect((await store.listRuns({ job_name: 'a', states: ['queued'], limit: 10 })).runs.map((r) => r.run_id)).toEqual(['p5']);
      expect((await store.listRuns({ job_name: 'a', states: ['running', 'failed'], limit: 10 })).runs.map((r) => r.run_id)).toEqual(['p6', 'c2', 'p3', 'p2']);
      // Failure states only (SQLite reads them through its partial index of unsuccessful runs), paged.
      await store.commit(finished(w, 'p7', 'a', T0 + 5000, 100, 'crashed'));
      const bad1 = await store.listRuns({ job_name: 'a', states: ['failed', 'crashed'], limit: 2 });
      expect(bad1.runs.map((r) => r.run_id)).toEqual(['p7', 'c2']);
      const bad2 = await store.listRuns({ job_name: 'a', states: ['failed', 'crashed'], limit: 2, cursor: bad1.next_cursor as string });
      expect(bad2.runs.map((r) => r.run_id)).toEqual(['p2']);
      expect(bad2.next_cursor).toBeUndefined();
      expect((await store.listRuns({ job_name: 'b', states: ['failed', 'timed_out'], limit: 10 })).runs).toEqual([]);
      expect((await store.listRuns({ parent_run_id: 'p3', states: ['failed', 'crashed'], limit: 10 })).runs.map((r) => r.run_id)).toEqual(['c2']);
      expect((await store.listRuns({ parent_run_id: 'p3', states: ['timed_out'], limit: 10 })).runs).toEqual([]);
      const first = await store.listRuns({ states: ['succeeded'], limit: 1 });
      expect(first.runs.map((r) => r.run_id)).toEqual(['p4']);
      const second = await store.listRuns({ states: ['succeeded'], limit: 5, cursor: first.next_cursor as string });
      expect(second.runs.map((r) => r.run_id)).toEqual(['c1', 'q1', 'p1']);
      expect(second.next_cursor).toBeUndefined();
    });

    it('finishedRuns returns runs ended in [since, until), optionally of one job', async () => {
      await store.commit(finished(w, 'r1', 'a', T0, 1000));
      await store.commit(finished(w, 'r2', 'a', T0 + 10_000, 2000, 'failed'));
      await store.commit(finished(w, 'r3', 'b', T0 + 20_000, 3000));
      await store.commit(w.batch([{ run: 'r4', job: 'a', event: 'started', at: T0 }]));
      const win = await store.finishedRuns({ since: T0 + 1000, until: T0 + 23_000 });
      expect(win.map((r) => [r.job_name, r.state, r.ended_at, r.duration_seconds]).sort()).toEqual([
        ['a', 'failed', T0 + 12_000, 2],
        ['a', 'succeeded', T0 + 1000, 1],
      ]);
      expect((await store.finishedRuns({ job_name: 'b', since: T0, until: T0 + 30_000 })).map((r) => r.duration_seconds)).toEqual([3]);
    });

    it('windowSummary (the store aggregate where it has one) equals the finished runs summarized', async () => {
      // Outcomes, tied and odd durations, runs finished without a start (no duration), runs
      // outside the window and an unfinished run, over several jobs: every branch of summarize.
      const outcomes: EventType[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'crashed', 'succeeded', 'succeeded'];
      let seed = 7;
      // mulberry32: an LCG's low bits repeat with a short period, which made every duration alike.
      const next = (n: number): number => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n | 0;
      };
      const specs: Parameters<Writer['batch']>[0] = [];
      for (let i = 0; i < 150; i++) {
        const job = `job-${next(5)}`;
        const at = T0 + next(200) * 1000;
        const outcome = outcomes[next(outcomes.length)] as EventType;
        if (next(10) > 0) specs.push({ run: `s${i}`, job, event: 'started', at });
        specs.push({ run: `s${i}`, job, event: outcome, at: at + (next(4) === 0 ? 5000 : next(60_000)) });
      }
      specs.push({ run: 'open', job: 'job-1', event: 'started', at: T0 + 1000 });
      await store.commit(w.batch(specs));
      for (const q of [
        { since: T0 + 20_000, until: T0 + 150_000 },
        { since: T0, until: T0 + 400_000 },
        { job_name: 'job-2', since: T0 + 20_000, until: T0 + 150_000 },
        { job_name: 'job-3', since: T0, until: T0 + 1 },
        { since: T0 + 10 ** 9, until: T0 + 10 ** 9 + 1 },
      ]) {
        const expected = summarizeWindow(await store.finishedRuns(q));
        const got = await windowSummary(store, q);
        // Sums taken in another order may differ in the last bits: averages are compared closely, the rest exactly.
        const norm = (s: typeof got.overall) => ({ ...s, duration_seconds: { ...s.duration_seconds, avg: s.duration_seconds.avg === null ? null : Math.round(s.duration_seconds.avg * 1e6) } });
        expect(norm(got.overall)).toEqual(norm(expected.overall));
        expect([...got.jobs.keys()].sort()).toEqual([...expected.jobs.keys()].sort());
        for (const [name, stats] of expected.jobs) expect(norm(got.jobs.get(name) as typeof stats)).toEqual(norm(stats));
      }
      expect((await windowSummary(store, { since: T0, until: T0 + 400_000 })).overall.runs).toBe(150);
    });

    it('endedRuns (where the store has it) gives the finished runs of the asked states in the window, with their ids', async () => {
      if (!store.endedRuns) return;
      await store.commit(finished(w, 'f1', 'a', T0, 1000, 'failed'));
      await store.commit(finished(w, 'f2', 'b', T0 + 10_000, 1000, 'crashed'));
      await store.commit(finished(w, 's1', 'a', T0 + 20_000, 1000));
      await store.commit(finished(w, 'f3', 'a', T0 + 100_000, 1000, 'timed_out'));
      await store.commit(w.batch([{ run: 'open', job: 'a', event: 'started', at: T0 }]));
      const rows = await store.endedRuns({ since: T0, until: T0 + 50_000, states: ['failed', 'crashed', 'timed_out'] });
      expect(rows.map((r) => [r.run_id, r.job_name, r.ended_at]).sort()).toEqual([
        ['f1', 'a', T0 + 1000],
        ['f2', 'b', T0 + 11_000],
      ]);
      expect((await store.endedRuns({ since: T0, until: T0 + 200_000, states: ['succeeded'] })).map((r) => r.run_id)).toEqual(['s1']);
      expect(await store.endedRuns({ since: T0, until: T0 + 200_000, states: [] })).toEqual([]);
    });

    it('concurrent reads each see everything committed before them', async () => {
      await store.commit(finished(w, 'r1', 'a', T0, 1000));
      await store.commit(finished(w, 'r2', 'b', T0, 2000));
      const q = { since: T0, until: T0 + 10_000 };
      const [one, two, mine, theirs, runs] = await Promise.all([
        store.finishedRuns(q),
        store.finishedRuns(q),
        store.finishedRuns({ ...q, job_name: 'a' }),
        store.finishedRuns({ ...q, job_name: 'a' }),
        store.listRuns({ limit: 10 }),
      ]);
      expect(one).toHaveLength(2);
      expect(two).toHaveLength(2);
      expect(mine).toHaveLength(1);
      expect(theirs).toHaveLength(1);
      expect(runs.runs.map((r) => r.run_id).sort()).toEqual(['r1', 'r2']);
      expect((await store.getRun('r1'))?.state).toBe('succeeded');
    });

    it('recentSuccesses gives the newest succeeded runs first', async () => {
      await store.commit(finished(w, 'r1', 'a', T0, 1000));
      await store.commit(finished(w, 'r2', 'a', T0 + 10_000, 2000));
      await store.commit(finished(w, 'r3', 'a', T0 + 20_000, 5000, 'failed'));
      await store.commit(finished(w, 'r4', 'a', T0 + 30_000, 4000));
      expect(await store.recentSuccesses('a', 2)).toEqual([
        { ended_at: T0 + 34_000, duration_seconds: 4 },
        { ended_at: T0 + 12_000, duration_seconds: 2 },
      ]);
      expect(await store.recentSuccesses('none', 5)).toEqual([]);
      // The start-up pass over every job says what asking job by job says.
      if (store.recentSuccessesOfAll) {
        const all = await store.recentSuccessesOfAll(2);
        expect(all.get('a')).toEqual(await store.recentSuccesses('a', 2));
        expect(all.has('none')).toBe(false);
        expect((await store.recentSuccessesOfAll(10)).get('a')).toEqual(await store.recentSuccesses('a', 10));
      }
    });

    it('prune removes old events and finished runs but keeps each job latest run and unfinished runs', async () => {
      await store.commit(finished(w, 'old1', 'a', T0, 1000));
      await store.commit(finished(w, 'old2', 'a', T0 + 1000, 1000));
      await store.commit(finished(w, 'lonely', 'b', T0, 1000));
      await store.commit(w.batch([{ run: 'open', job: 'c', event: 'started', at: T0 }]));
      await store.commit(finished(w, 'new', 'a', T0 + 100_000, 1000));
      const out = await store.prune({ eventsBefore: T0 + 50_000, runsBefore: T0 + 50_000 });
      expect(out).toEqual({ events: 7, runs: 2 });
      expect(await store.getRun('old1')).toBeUndefined();
      expect(await store.getRun('old2')).toBeUndefined();
      expect(await store.getRun('lonely')).toBeDefined();
      expect(await store.getRun('open')).toBeDefined();
      expect(await store.listEvents('old1')).toEqual([]);
      expect((await store.listEvents('new')).map((e) => e.event)).toEqual(['started', 'succeeded']);
      if (store.eventWindow) {
        expect(await store.eventWindow('new', 1, 1)).toEqual({ events: await store.listEvents('new'), total: 2 });
        expect(await store.eventWindow('old1', 1, 1)).toEqual({ events: [], total: 0 });
      }
      expect((await store.listRuns({ job_name: 'a', limit: 10 })).runs.map((r) => r.run_id)).toEqual(['new']);
      expect((await store.loadState()).runs.map((r) => r.run_id).sort()).toEqual(['lonely', 'new', 'open']);
    });

    it('ping succeeds while open and fails after close', async () => {
      await store.ping();
      await store.close();
      await expect(store.ping()).rejects.toThrow();
    });
  });
});
