/**
 * retention.jobs on several replicas: every replica runs the sweep on the same schedule, and
 * each idle job must be deleted (and counted in jobpulse_retention_pruned_total) once in all,
 * not once per replica that raced to delete it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');
const DAY = 86_400_000;

describe.skipIf(!has)('retention.jobs across replicas on Redis', () => {
  let redis: TestRedis;
  const agents: TestAgent[] = [];
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    redis = await startRedis();
    const key_prefix = `t-${randomUUID()}:`;
    const config = { store: { kind: 'redis', redis: { url: redis.url, key_prefix } }, detectors: { enabled: false }, retention: { idle_job_ttl: '1d', jobs: '2d' } };
    for (let i = 0; i < 3; i++) agents.push(await startAgent({ clock, config }));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await redis?.cleanup();
  });

  it('deletes each idle job once in all and counts it once, whichever replica got there first', async () => {
    const [a] = agents as [TestAgent];
    const names = Array.from({ length: 12 }, (_, i) => `idle-${i}`);
    await a.push(names.map((job_name) => ({ job_name, event: 'succeeded' })));
    for (const x of agents) {
      for (let t = 0; t < 200 && ((await x.get('/api/v1/jobs')).body.jobs as unknown[]).length < names.length; t++) await new Promise((r) => setTimeout(r, 10));
    }
    clock.advance(3 * DAY);
    const swept = await Promise.all(agents.map((x) => x.agent.retention.runOnce()));
    expect(swept.reduce((n, r) => n + r.jobs, 0)).toBe(names.length);
    for (const x of agents) expect((await x.get('/api/v1/jobs')).body.jobs).toEqual([]);
    const counted = await Promise.all(
      agents.map(async (x) => Number(/^jobpulse_retention_pruned_total\{kind="jobs"\} (\d+)/m.exec((await x.get('/metrics')).text)?.[1] ?? 0)),
    );
    expect(counted.reduce((n, c) => n + c, 0)).toBe(names.length);
  });
});
