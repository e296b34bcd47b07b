/**
 * limits.max_jobs holds across replicas: the count is the shared job set in Redis, checked
 * inside the commit script, not each replica's own view. New jobs pushed at the same
 * moment through two replicas stop at the limit in total; the rest get 429.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { waitFor } from '../support/wait-for.js';

const has = hasBinary('redis-server', 'redis-server');
const MAX_JOBS = 6;

describe.skipIf(!has)('limits.max_jobs across replicas on Redis', () => {
  let redis: TestRedis;
  let client: Redis;
  const agents: TestAgent[] = [];
  const key_prefix = `t-${randomUUID()}:`;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    for (let i = 0; i < 2; i++)
      agents.push(await startAgent({ config: { store: { kind: 'redis', redis: { url: redis.url, key_prefix } }, detectors: { enabled: false }, limits: { max_jobs: MAX_JOBS }, auth: { admin_tokens: ['adm'] } } }));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    client?.disconnect();
    await redis?.cleanup();
  });

  it('refuses new jobs past the limit counted over all replicas, also when they race', async () => {
    const [a, b] = agents as [TestAgent, TestAgent];
    // Two jobs exist already (through A); B has not necessarily seen them when the race starts.
    for (const j of ['old-1', 'old-2']) expect((await a.push({ job_name: j, event: 'started' })).status).toBe(200);

    // Eight new jobs at once, four through each replica: only four fit.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).push({ job_name: `new-${i}`, event: 'started' }).then((r) => ({ i, ...r }))),
    );
    const accepted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(accepted.length + refused.length).toBe(8);
    expect(accepted).toHaveLength(MAX_JOBS - 2);
    expect(refused[0]?.body.code).toBe('too_many_jobs');
    expect(await client.scard(`${key_prefix}jobs`)).toBe(MAX_JOBS);

    // Known jobs still take events on either replica; any further new job is refused on both.
    expect((await b.push({ job_name: 'old-1', event: 'succeeded' })).status).toBe(200);
    for (const x of [a, b]) expect((await x.push({ job_name: `late-${x.port}`, event: 'started' })).status).toBe(429);
    for (const x of [a, b]) await waitFor(async () => ((await x.get('/api/v1/jobs')).body.jobs as unknown[]).length === MAX_JOBS, { what: 'both replicas list the limit' });
  });

  it('frees the slots of deleted jobs on every replica, also one the store refused before', async () => {
    const [a, b] = agents as [TestAgent, TestAgent];
    // Both replicas were refused by the store above. Delete every job through A only.
    const names = ((await a.get('/api/v1/jobs')).body.jobs as { job_name: string }[]).map((j) => j.job_name);
    for (const n of names) expect((await fetch(`${a.url}/api/v1/jobs/${encodeURIComponent(n)}`, { method: 'DELETE', headers: { authorization: 'Bearer adm' } })).status).toBe(200);
    expect(await client.scard(`${key_prefix}jobs`)).toBe(0);
    await waitFor(async () => ((await b.get('/api/v1/jobs')).body.jobs as unknown[]).length === 0, { what: 'B followed the deletions' });
    // B counted the shared set at its refusal; the deletions freed the slots there too.
    for (const x of [b, a]) expect((await x.push({ job_name: `after-${x.port}`, event: 'started' })).status).toBe(200);
  });
});
