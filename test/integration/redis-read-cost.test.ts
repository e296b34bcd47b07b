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
    // One HMGET per run read: the three in the window (the old path read all 603).
    expect(await calls(client, 'hmget')).toBe(3);
    expect(await calls(client, 'zscore')).toBe(5);
  });
});
