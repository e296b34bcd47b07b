/**
 * A deletion cut short on Redis (its replica killed mid-way) leaves the job in the store with
 * its fence set for up to 5 s; README: the job stays listed, delete it again. A DELETE through
 * another replica meanwhile answers 404 ("being deleted"): that replica must go on holding the
 * job, as the store and the other replicas do, and take the next DELETE.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter } from '../support/store-writer.js';

const has = hasBinary('redis-server', 'redis-server');
const ADMIN = { authorization: 'Bearer admin-secret' };

describe.skipIf(!has)('a job deletion cut short on Redis', () => {
  let redis: TestRedis;
  let agents: TestAgent[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.cleanup());
  afterEach(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    agents = [];
  });

  const names = async (a: TestAgent): Promise<string[]> => ((await a.get('/api/v1/jobs')).body as { jobs: { job_name: string }[] }).jobs.map((j) => j.job_name);
  const del = async (a: TestAgent, job: string): Promise<number> => (await fetch(`${a.url}/api/v1/jobs/${job}`, { method: 'DELETE', headers: ADMIN })).status;

  it('a replica refused as the job is being deleted keeps it, and deletes it when asked again', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
    const prefix = `t-${randomUUID()}:`;
    const config = { auth: { admin_tokens: ['admin-secret'] }, store: { kind: 'redis', redis: { url: redis.url, key_prefix: prefix } } };
    const a = await startAgent({ clock, config });
    const b = await startAgent({ clock, config });
    agents.push(a, b);
    expect((await a.push([{ job_name: 'cut', run_id: 'r1', event: 'started' }, { job_name: 'cut', run_id: 'r1', event: 'succeeded' }])).status).toBe(200);
    const bHas = async (): Promise<boolean> => (await names(b)).includes('cut');
    for (let i = 0; !(await bHas()); i++) if (i > 200) throw new Error('b never saw the job');

    // The fence a replica killed during its deletion leaves behind (FORGET_BEGIN_SCRIPT).
    const r = new Redis(redis.url);
    try {
      await r.set(`${prefix}deleting:cut`, 'a-replica-killed-mid-deletion', 'PX', 60_000);
      expect(await del(b, 'cut')).toBe(404);
      // Still in the store, so still listed, on b as on a.
      expect(await names(b)).toEqual(await names(a));
      expect(await names(b)).toContain('cut');
      // The fence expires (the ttl, without waiting for it).
      await r.del(`${prefix}deleting:cut`);
    } finally {
      r.disconnect();
    }
    // Delete it again: through b, which had answered 404.
    expect(await del(b, 'cut')).toBe(200);
    expect(await names(b)).not.toContain('cut');
    const check = new Redis(redis.url);
    expect(await check.sismember(`${prefix}jobs`, 'cut').finally(() => check.disconnect())).toBe(0);
  });

  it('a deletion whose fence expired under it (its replica stalled past the ttl) answers 409, not 500, and deleting again finishes it', async () => {
    const T0 = Date.UTC(2026, 10, 23, 12);
    const clock = new ManualClock(T0 + 60_000);
    const prefix = `t-${randomUUID()}:`;
    // 3,000 runs: the deletion takes several steps, the fence is checked at each.
    const seeder = await createRedisStore({ url: redis.url, key_prefix: prefix });
    const w = new StoreWriter();
    for (let i = 0; i < 3000; i += 500) {
      const specs: Parameters<StoreWriter['batch']>[0] = [];
      for (let k = i; k < i + 500; k++) specs.push({ run: `gone-${k}`, job: 'gone', event: 'started', at: T0 + k }, { run: `gone-${k}`, job: 'gone', event: 'succeeded', at: T0 + k + 1 });
      await seeder.commit(w.batch(specs));
    }
    await seeder.close();
    const a = await startAgent({ clock, config: { auth: { admin_tokens: ['admin-secret'] }, store: { kind: 'redis', redis: { url: redis.url, key_prefix: prefix } } } });
    agents.push(a);
    const r = new Redis(redis.url);
    try {
      const all = await r.zcard(`${prefix}runs`);
      const deleting = fetch(`${a.url}/api/v1/jobs/gone`, { method: 'DELETE', headers: ADMIN });
      // Under way: then its fence goes, as when the replica stalls past the ttl between steps.
      while ((await r.zcard(`${prefix}runs`)) === all) await new Promise((res) => setImmediate(res));
      await r.del(`${prefix}deleting:gone`);
      const res = await deleting;
      const body = (await res.json()) as { code: string; error: string };
      expect(res.status).toBe(409);
      expect(body.code).toBe('deletion_cut_short');
      expect(body.error).toContain('delete it again');
      // Left listed with part of its history (README); deleting again finishes it.
      expect(await names(a)).toContain('gone');
      expect(await del(a, 'gone')).toBe(200);
      expect(await r.zcard(`${prefix}runs`)).toBe(0);
      expect(await names(a)).not.toContain('gone');
    } finally {
      r.disconnect();
    }
  });
});
