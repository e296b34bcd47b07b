/**
 * What one job's history costs to read on Redis: its own runs, not every job's. The job page
 * (refreshed every 10 s) and /api/v1/stats?job_name= read one job's finished runs of a week;
 * filtering the window of all jobs read each of their runs (2 s at 2,000 jobs of 50 runs).
 * Counted with Redis's own command statistics, so the test does not depend on timing.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import type { Store } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter } from '../support/store-writer.js';

const has = hasBinary('redis-server', 'redis-server');
const T0 = Date.UTC(2026, 11, 1);

/** Calls of `command` since the last CONFIG RESETSTAT. */
async function calls(client: Redis, command: string): Promise<number> {
  const info = await client.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

describe.skipIf(!has)('Redis store: reading one job', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: Store;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    store = await createRedisStore({ url: redis.url, key_prefix: `t-${randomUUID()}:` });
    const w = new StoreWriter();
    const specs: Parameters<StoreWriter['batch']>[0] = [];
    // 600 runs of a busy job and 3 of a quiet one, all ended in the same hour.
    for (let i = 0; i < 600; i++) specs.push({ run: `busy-${i}`, job: 'busy', event: 'started', at: T0 + i }, { run: `busy-${i}`, job: 'busy', event: 'succeeded', at: T0 + 1000 + i });
    for (let i = 0; i < 3; i++) specs.push({ run: `quiet-${i}`, job: 'quiet', event: 'started', at: T0 + i }, { run: `quiet-${i}`, job: 'quiet', event: 'failed', at: T0 + 2000 + i });
    // A run of the quiet job outside the window, and one still running.
    specs.push({ run: 'quiet-old', job: 'quiet', event: 'started', at: T0 - 10_000 }, { run: 'quiet-old', job: 'quiet', event: 'succeeded', at: T0 - 5_000 });
    specs.push({ run: 'quiet-open', job: 'quiet', event: 'started', at: T0 });
    await store.commit(w.batch(specs));
  });
  afterAll(async () => {
    await store?.close();
    client?.disconnect();
    await redis?.cleanup();
  });

  it("reads the job's own runs only: a quiet job's week does not read a busy job's runs", async () => {
    await client.config('RESETSTAT');
    const runs = await store.finishedRuns({ job_name: 'quiet', since: T0, until: T0 + 3_600_000 });
    expect(runs.map((r) => [r.state, r.ended_at]).sort()).toEqual([
      ['failed', T0 + 2000],
      ['failed', T0 + 2001],
      ['failed', T0 + 2002],
    ]);
    // One HMGET per run read: the three in the window (the old path read all 603), and no
    // lookup per run of the job's history (the path before job-ended:<job> made 5 ZSCOREs here,
    // one per run of the job, 130k for a job run every minute for 90 days).
    expect(await calls(client, 'hmget')).toBe(3);
    expect(await calls(client, 'zscore')).toBe(0);
    expect(await calls(client, 'zrangebyscore')).toBe(1);
  });

  it('fills the index at start for data written before it, once; pruning takes runs out of it', async () => {
    const prefix = `t-${randomUUID()}:`;
    const first = await createRedisStore({ url: redis.url, key_prefix: prefix });
    const w = new StoreWriter();
    const specs: Parameters<StoreWriter['batch']>[0] = [];
    for (let i = 0; i < 1200; i++) specs.push({ run: `old-${i}`, job: `job-${i % 3}`, event: 'started', at: T0 + i }, { run: `old-${i}`, job: `job-${i % 3}`, event: 'failed', at: T0 + 5000 + i });
    specs.push({ run: 'open', job: 'job-0', event: 'started', at: T0 });
    await first.commit(w.batch(specs));
    await first.close();
    // As a version before the index left it: no job-ended:* keys and no mark.
    const before = await client.keys(`${prefix}job-ended:*`);
    expect(before).toHaveLength(3);
    await client.del(...before, `${prefix}index:job-ended`);

    const filled: { jobs: number; runs: number }[] = [];
    let done: () => void = () => undefined;
    const fillDone = new Promise<void>((r) => (done = r));
    const second = await createRedisStore({
      url: redis.url,
      key_prefix: prefix,
      onIndexFilled: (info) => {
        filled.push(info);
        done();
      },
    });
    // Filled in the background: until then the job's runs are found the old way, as correctly.
    expect(await second.finishedRuns({ job_name: 'job-1', since: T0, until: T0 + 3_600_000 })).toHaveLength(400);
    await fillDone;
    expect(filled).toMatchObject([{ jobs: 3, runs: 1200 }]);
    const window = { since: T0, until: T0 + 3_600_000 };
    expect(await second.finishedRuns({ job_name: 'job-0', ...window })).toHaveLength(400);
    const ends = (await second.finishedRuns({ job_name: 'job-2', since: T0 + 5000 + 1100, until: T0 + 5000 + 1200 })).map((r) => r.ended_at);
    const job2 = Array.from({ length: 100 }, (_, k) => 1100 + k).filter((i) => i % 3 === 2);
    expect(ends.sort((x, y) => x - y)).toEqual(job2.map((i) => T0 + 5000 + i));
    // Pruning deletes ended runs (each job's latest stays): they leave the index too.
    await second.prune({ eventsBefore: 0, runsBefore: T0 + 5000 + 600 });
    expect(await second.finishedRuns({ job_name: 'job-0', ...window })).toHaveLength(200);
    expect(await client.zcard(`${prefix}job-ended:job-0`)).toBe(200);
    await second.close();
    // Filled once: a later start finds the mark.
    const third = await createRedisStore({ url: redis.url, key_prefix: prefix, onIndexFilled: (info) => filled.push(info) });
    expect(filled).toHaveLength(1);
    await third.close();
  });
});
