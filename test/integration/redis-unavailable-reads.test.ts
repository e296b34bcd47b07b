/**
 * Redis down: every route that reads or deletes through the store answers 503
 * store_unavailable with the JSON error body, like a push does, never 500 "internal error".
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');
const ADMIN = { authorization: 'Bearer admin-secret' };

describe.skipIf(!has)('reads while Redis is unavailable', () => {
  let redis: TestRedis;
  let a: TestAgent;
  beforeAll(async () => {
    redis = await startRedis();
    a = await startAgent({
      config: { auth: { admin_tokens: ['admin-secret'] }, store: { kind: 'redis', redis: { url: redis.url, key_prefix: `t-${randomUUID()}:` } } },
    });
  });
  afterAll(async () => {
    await a?.stop();
    await redis?.cleanup();
  });

  it('answer 503 store_unavailable, and recover once Redis is back', async () => {
    expect((await a.push([{ job_name: 'j1', run_id: 'r1', event: 'started' }, { job_name: 'j1', run_id: 'r1', event: 'succeeded' }])).status).toBe(200);
    // r1 is no longer j1's latest run: memory lets it go, the API reads it from the store.
    expect((await a.push([{ job_name: 'j1', run_id: 'r2', event: 'started' }, { job_name: 'j1', run_id: 'r2', event: 'succeeded' }])).status).toBe(200);
    const reads = ['/api/v1/jobs/j1/runs', '/api/v1/runs/r1', '/api/v1/runs/r1/children', '/api/v1/stats', '/api/v1/stats?job_name=j1', '/jobs/j1', '/runs/r1'];
    for (const path of reads) expect((await a.get(path, ADMIN)).status, path).toBe(200);

    await redis.stop();
    for (const path of reads) {
      const res = await a.get(path, ADMIN);
      expect(res.status, `${path}: ${res.text.slice(0, 200)}`).toBe(503);
      expect(res.body.code, path).toBe('store_unavailable');
      expect(res.body.error, path).toMatch(/^store unavailable: /);
    }
    // The jobs page reads the store once (the last day's failures), on its first visit.
    const front = await a.get('/');
    expect(front.status).toBe(503);
    expect(front.body.code).toBe('store_unavailable');
    const del = await fetch(`${a.url}/api/v1/jobs/j1`, { method: 'DELETE', headers: ADMIN });
    expect(del.status).toBe(503);
    expect(((await del.json()) as { code: string }).code).toBe('store_unavailable');
    // A push says it the same way (one prefix, not two).
    const push = await a.push({ job_name: 'j1', run_id: 'r3', event: 'started' });
    expect(push.status).toBe(503);
    expect(push.body.error).toMatch(/^store unavailable: (?!store unavailable)/);
    expect(a.logs.filter((l) => l.msg === 'unhandled error')).toEqual([]);

    await redis.start();
    const t0 = Date.now();
    while ((await a.get('/api/v1/runs/r1')).status !== 200) {
      if (Date.now() - t0 > 15_000) throw new Error('reads did not recover');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const path of reads) expect((await a.get(path, ADMIN)).status, path).toBe(200);
  });
});
