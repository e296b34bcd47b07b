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
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import { revisionOf, StoreConflictError, type Store } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter } from '../support/store-writer.js';

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
  /** Every replica holds the run at the revision Redis has. */
  const converged = (run: string) => async () => {
    const v = Number(await admin.hget(`${prefix}run:${run}`, 'v'));
    return agents.every((a) => revisionOf(a.agent.state.getRun(run) ?? {}) === v);
  };

  it('every replica takes pushes again after Redis lost all its data (restart without persistence)', async () => {
    await replicas(3);
    const [a] = agents as [TestAgent];
    expect((await a.push({ job_name: 'newone', event: 'started', run_id: 'long1' })).status).toBe(200);
    clock.advance(60_000);
    expect((await a.push({ job_name: 'newone', event: 'progress', run_id: 'long1', progress: 50 })).status).toBe(200);
    await until(converged('long1'));

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
    // The first replica found the store behind its memory and said so; the others then found
    // its commit newer than their lost copies (revisions are not reused) and reduced on it.
    expect(lossWarnings(a).length).toBeGreaterThan(0);
    // And the next push commits at once: no conflict left to retry on.
    const conflictsBefore = a.logs.filter((l) => l.msg === 'commit conflict; reducing the batch again on fresh snapshots').length;
    expect((await a.push({ job_name: 'newone', event: 'started', run_id: 'long2' })).status).toBe(200);
    expect(a.logs.filter((l) => l.msg === 'commit conflict; reducing the batch again on fresh snapshots').length).toBe(conflictsBefore);
  });

  it('every replica takes pushes again after a failover dropped the last write of a run and its job', async () => {
    await replicas(3);
    const [a, b] = agents as [TestAgent, TestAgent, TestAgent];
    expect((await a.push({ job_name: 'jb', event: 'started', run_id: 'rb1' })).status).toBe(200);
    await until(converged('rb1'));
    const run = await admin.hmget(`${prefix}run:rb1`, 'v', 'd');
    const job = await admin.hmget(`${prefix}job:jb`, 'v', 'd');

    // Acknowledged, followed by every replica, then gone with the old primary.
    expect((await b.push({ job_name: 'jb', event: 'progress', run_id: 'rb1', progress: 40 })).status).toBe(200);
    await until(converged('rb1'));
    await admin.hset(`${prefix}run:rb1`, 'v', run[0] as string, 'd', run[1] as string);
    await admin.hset(`${prefix}job:jb`, 'v', job[0] as string, 'd', job[1] as string);

    // Back to back, no waiting for the others to follow: a replica still holding the lost
    // snapshot must not commit on top of it (its revision is never written again).
    for (const x of agents) {
      clock.advance(1000);
      const res = await x.push({ job_name: 'jb', event: 'heartbeat', run_id: 'rb1' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.results[0].result).toBe('applied');
    }
    await until(converged('rb1'));
    expect((await a.agent.store.getRun('rb1'))?.state).toBe('running');
    // The lost progress stays lost: the store's picture is the truth from here on.
    expect((await a.agent.store.getRun('rb1'))?.progress).toBeUndefined();
    // started + three heartbeats: none overwritten by a commit on the lost copy.
    expect((await a.agent.store.getRun('rb1'))?.event_count).toBe(4);
    await until(() => agents.every((x) => x.agent.state.getRun('rb1')?.event_count === (agents[2] as TestAgent).agent.state.getRun('rb1')?.event_count));
    // The first replica to write found the store behind; the others had followed its commit.
    expect(lossWarnings(a).length).toBeGreaterThan(0);
  });

  it('a replica holding a lost snapshot cannot commit on top of it once another replica wrote after the loss', async () => {
    prefix = `t-${randomUUID()}:`;
    const open = (): Promise<Store> => createRedisStore({ url: redis.url, key_prefix: prefix });
    const [sa, sb] = [await open(), await open()];
    try {
      const T0 = Date.UTC(2026, 10, 23, 12);
      const wa = new StoreWriter();
      await sa.commit(wa.batch([{ run: 'r', job: 'j', event: 'started', at: T0, id: 'a1' }]));
      const before = { run: await admin.hgetall(`${prefix}run:r`), job: await admin.hgetall(`${prefix}job:j`) };

      // B reads the run and commits progress on it: acknowledged, then lost with Redis.
      const wb = new StoreWriter();
      wb.runs.set('r', (await sb.getRun('r'))!);
      wb.jobs.set('j', (await sb.loadState()).jobs[0]!);
      await sb.commit(wb.batch([{ run: 'r', job: 'j', event: 'progress', at: T0 + 1000, records: 10, id: 'b1' }]));
      await admin.hset(`${prefix}run:r`, before.run);
      await admin.hset(`${prefix}job:j`, before.job);

      // A writes after the loss, from what Redis holds.
      wa.runs.set('r', (await sa.getRun('r'))!);
      await sa.commit(wa.batch([{ run: 'r', job: 'j', event: 'heartbeat', at: T0 + 2000, id: 'a2' }]));
      const afterA = await sa.getRun('r');
      expect(revisionOf(afterA!)).not.toBe(revisionOf(wb.runs.get('r')!));

      // B, not having followed A's commit, writes on its lost copy: refused, A's heartbeat kept.
      const late = wb.batch([{ run: 'r', job: 'j', event: 'progress', at: T0 + 3000, records: 20, id: 'b2' }]);
      await expect(sb.commit(late)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await sa.getRun('r')).toEqual(afterA);
      expect((await sa.getRun('r'))?.last_heartbeat_at).toBe(T0 + 2000);
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
  });

  it('revisions grow past the ones the writer has seen even when Redis\' clock is behind them', async () => {
    prefix = `t-${randomUUID()}:`;
    const s = await createRedisStore({ url: redis.url, key_prefix: prefix });
    try {
      const T0 = Date.UTC(2026, 10, 23, 12);
      const w = new StoreWriter();
      await s.commit(w.batch([{ run: 'r', job: 'j', event: 'started', at: T0 }]));
      // A revision far ahead of Redis' clock (written before the clock stepped back).
      const ahead = (Number((await admin.time())[0]) + 3600) * 1e6;
      await admin.hset(`${prefix}run:r`, 'v', String(ahead));
      w.runs.set('r', (await s.getRun('r'))!);
      await s.commit(w.batch([{ run: 'r', job: 'j', event: 'heartbeat', at: T0 + 1000 }]));
      // Another run, committed after this replica read `ahead`: above it, not at Redis' clock.
      await s.commit(w.batch([{ run: 'r2', job: 'other', event: 'started', at: T0 + 2000 }]));
      expect(Number(await admin.hget(`${prefix}run:r`, 'v'))).toBe(ahead + 1);
      expect(Number(await admin.hget(`${prefix}run:r2`, 'v'))).toBeGreaterThan(ahead + 1);
      expect(revisionOf((await s.getRun('r2'))!)).toBe(revisionOf(w.runs.get('r2')!));
    } finally {
      await s.close();
    }
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
