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
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

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
});
