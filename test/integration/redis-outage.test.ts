/**
 * Redis goes away: pushes get 503 with a clear message (never a silent 2xx), /readyz
 * fails, and the agent recovers by itself once Redis is back — no restart.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');

async function until(probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!has)('Redis unavailable', () => {
  let redis: TestRedis;
  let a: TestAgent;
  beforeAll(async () => {
    redis = await startRedis();
    a = await startAgent({ config: { store: { kind: 'redis', redis: { url: redis.url, key_prefix: `t-${randomUUID()}:` } } } });
  });
  afterAll(async () => {
    await a?.stop();
    await redis?.cleanup();
  });

  it('answers 503 and fails readiness while Redis is down, then recovers without a restart', async () => {
    const before = await a.push({ job_name: 'j', run_id: 'r1', event: 'started', event_id: 'e1' });
    expect(before.status).toBe(200);
    expect((await a.get('/readyz')).status).toBe(200);

    await redis.stop();
    const down = await a.push({ job_name: 'j', run_id: 'r1', event: 'progress', progress: 50, event_id: 'e2' });
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('store_unavailable');
    expect(down.body.error).toMatch(/store unavailable/);
    const ready = await a.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.find((c: { name: string }) => c.name === 'store').ok).toBe(false);
    // The Pushgateway's probe path says the same; its liveness path does not.
    expect((await a.get('/-/ready')).status).toBe(503);
    expect((await a.get('/-/healthy')).status).toBe(200);
    // The refused event changed nothing in memory either.
    expect((await a.get('/api/v1/jobs/j')).status).toBe(200);
    expect(a.agent.state.getRun('r1')?.progress).toBeUndefined();

    await redis.start();
    await until(async () => (await a.get('/readyz')).status === 200);
    const again = await a.push({ job_name: 'j', run_id: 'r1', event: 'progress', progress: 50, event_id: 'e2' });
    expect(again.status).toBe(200);
    expect(again.body.results[0].result).toBe('applied');
    // What was acknowledged before the outage survived the Redis restart (AOF).
    expect((await a.agent.store.listEvents('r1')).map((e) => e.event_id)).toEqual(['e1', 'e2']);
  });

  it('a Redis that answers PING but refuses writes fails readiness too', async () => {
    // min-replicas-to-write without replicas: every write gets NOREPLICAS, PING still PONG,
    // as with a full disk under AOF (MISCONF) or a primary demoted to a read-only replica.
    const admin = new Redis(redis.url);
    try {
      await admin.config('SET', 'min-replicas-to-write', '1');
      expect(await admin.ping()).toBe('PONG');
      const refused = await a.push({ job_name: 'j', run_id: 'r1', event: 'progress', progress: 60, event_id: 'e3' });
      expect(refused.status).toBe(503);
      const ready = await a.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.find((c: { name: string }) => c.name === 'store').ok).toBe(false);
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0');
      admin.disconnect();
    }
    await until(async () => (await a.get('/readyz')).status === 200);
    expect((await a.push({ job_name: 'j', run_id: 'r1', event: 'progress', progress: 60, event_id: 'e3' })).status).toBe(200);
  });
});
