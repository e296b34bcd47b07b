/**
 * Redis loses acknowledged writes (a restart without persistence, a failover that drops the
 * last writes; README "Scale-out on Redis"): the replicas hold newer revisions in memory than
 * the store. After a commit conflict the store's picture wins, so pushes go on succeeding on
 * every replica without a restart, and the loss is logged as a warning.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { revisionOf } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const lossWarnings = (a: TestAgent): Record<string, unknown>[] => a.logs.filter((l) => l.level === 'warn' && String(l.msg).includes('acknowledged writes were lost'));

describe.skipIf(!has)('Redis losing acknowledged writes', () => {
  let redis: TestRedis;
  let admin: Redis;
  let agents: TestAgent[] = [];
  let prefix = '';
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.cleanup();
  });
  afterEach(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    agents = [];
  });

  const replicas = async (n: number): Promise<TestAgent[]> => {
    prefix = `t-${randomUUID()}:`;
    for (let i = 0; i < n; i++) agents.push(await startAgent({ clock, config: { store: { kind: 'redis', redis: { url: redis.url, key_prefix: prefix } } } }));
    return agents;
  };
  const converged = (run: string, rev: number) => () => agents.every((a) => revisionOf(a.agent.state.getRun(run) ?? {}) === rev);

  it('every replica takes pushes again after Redis lost all its data (restart without persistence)', async () => {
    await replicas(3);
    const [a] = agents as [TestAgent];
    expect((await a.push({ job_name: 'newone', event: 'started', run_id: 'long1' })).status).toBe(200);
    clock.advance(60_000);
    expect((await a.push({ job_name: 'newone', event: 'progress', run_id: 'long1', progress: 50 })).status).toBe(200);
    await until(converged('long1', 2));

    // What a restart without AOF/RDB leaves: nothing, while the replicas keep their memory.
    await admin.flushall();

    clock.advance(60_000);
    for (const x of agents) {
      const res = await x.push({ job_name: 'newone', event: 'succeeded', run_id: 'long1' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const stored = await a.agent.store.getRun('long1');
    expect(stored?.state).toBe('succeeded');
    expect((await admin.sismember(`${prefix}jobs`, 'newone'))).toBe(1);
    for (const x of agents) {
      expect(x.agent.state.getRun('long1')?.state).toBe('succeeded');
      expect((await x.get('/readyz')).status).toBe(200);
    }
    // Every replica found the store behind its memory and said so.
    for (const x of agents) expect(lossWarnings(x).length).toBeGreaterThan(0);
    // And the next push commits at once: no conflict left to retry on.
    const conflictsBefore = a.logs.filter((l) => l.msg === 'commit conflict; reducing the batch again on fresh snapshots').length;
    expect((await a.push({ job_name: 'newone', event: 'started', run_id: 'long2' })).status).toBe(200);
    expect(a.logs.filter((l) => l.msg === 'commit conflict; reducing the batch again on fresh snapshots').length).toBe(conflictsBefore);
  });

  it('every replica takes pushes again after a failover dropped the last write of a run and its job', async () => {
    await replicas(3);
    const [a, b] = agents as [TestAgent, TestAgent, TestAgent];
    expect((await a.push({ job_name: 'jb', event: 'started', run_id: 'rb1' })).status).toBe(200);
    await until(converged('rb1', 1));
    const run = await admin.hmget(`${prefix}run:rb1`, 'v', 'd');
    const job = await admin.hmget(`${prefix}job:jb`, 'v', 'd');

    // Acknowledged, followed by every replica, then gone with the old primary.
    expect((await b.push({ job_name: 'jb', event: 'progress', run_id: 'rb1', progress: 40 })).status).toBe(200);
    await until(converged('rb1', 2));
    await admin.hset(`${prefix}run:rb1`, 'v', run[0] as string, 'd', run[1] as string);
    await admin.hset(`${prefix}job:jb`, 'v', job[0] as string, 'd', job[1] as string);

    for (const x of agents) {
      clock.advance(1000);
      const res = await x.push({ job_name: 'jb', event: 'heartbeat', run_id: 'rb1' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.results[0].result).toBe('applied');
      // One at a time, each after every replica followed the last: the store reuses the lost
      // revision numbers, so a replica still holding the lost snapshot at the revision just
      // written again would commit on top of it (a known gap: revisions are not fenced across a loss).
      const v = Number(await admin.hget(`${prefix}run:rb1`, 'v'));
      await until(converged('rb1', v));
    }
    expect((await a.agent.store.getRun('rb1'))?.state).toBe('running');
    // The lost progress stays lost: the store's picture is the truth from here on.
    expect((await a.agent.store.getRun('rb1'))?.progress).toBeUndefined();
    await until(() => agents.every((x) => x.agent.state.getRun('rb1')?.event_count === (agents[2] as TestAgent).agent.state.getRun('rb1')?.event_count));
    // The first replica to write found the store behind; the others had followed its commit.
    expect(lossWarnings(a).length).toBeGreaterThan(0);
  });

  it('replicas racing on one run still reduce on the newer snapshot and warn of nothing', async () => {
    await replicas(2);
    const [a, b] = agents as [TestAgent, TestAgent];
    expect((await a.push({ job_name: 'race', event: 'started', run_id: 'rr' })).status).toBe(200);
    const pushes = [];
    for (let i = 0; i < 40; i++) pushes.push((i % 2 ? a : b).push({ job_name: 'race', event: 'heartbeat', run_id: 'rr' }));
    expect((await Promise.all(pushes)).map((r) => r.status)).toEqual(Array(40).fill(200));
    expect((await a.agent.store.getRun('rr'))?.event_count).toBe(41);
    expect(lossWarnings(a)).toEqual([]);
    expect(lossWarnings(b)).toEqual([]);
  });
});
