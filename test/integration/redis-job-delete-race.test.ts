/**
 * Deleting a job on Redis (DELETE /api/v1/jobs/…, retention.jobs) while another replica
 * commits to it. The deletion takes many round trips (a chunk of runs at a time); a commit of
 * the other replica must land either wholly before it (and be deleted with the job) or wholly
 * after it (and start the job afresh), never leave runs, events or event ids of no job behind.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src/domain/job.js';
import type { Run } from '../../src/domain/run.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import { revisionOf, StoreConflictError, type CommitBatch, type RemoteChange, type Store } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter } from '../support/store-writer.js';

const has = hasBinary('redis-server', 'redis-server');
const T0 = Date.UTC(2026, 11, 7, 12);

async function until(probe: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe.skipIf(!has)('Redis: deleting a job while another replica commits to it', () => {
  let redis: TestRedis;
  let admin: Redis;
  let prefix = '';
  const stores: Store[] = [];
  let agents: TestAgent[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.cleanup();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(agents.map((a) => a.stop()));
    agents = [];
  });
  const open = async (): Promise<Store> => {
    const s = await createRedisStore({ url: redis.url, key_prefix: prefix });
    stores.push(s);
    return s;
  };

  /**
   * What no deletion may leave: a run whose job is gone, an index entry or event list of a run
   * that is gone, an event or event id of a run that is gone. Empty when the data is whole.
   */
  async function orphans(): Promise<string[]> {
    const out: string[] = [];
    const jobs = new Set(await admin.smembers(`${prefix}jobs`));
    const runKeys = await admin.keys(`${prefix}run:*`);
    const runs = new Set<string>();
    for (const k of runKeys) {
      const r = JSON.parse((await admin.hget(k, 'd')) as string) as Run;
      runs.add(r.run_id);
      if (!jobs.has(r.job_name)) out.push(`run ${r.run_id} of missing job ${r.job_name}`);
    }
    for (const id of await admin.zrange(`${prefix}runs`, 0, -1)) if (!runs.has(id)) out.push(`runs index: ${id}`);
    for (const id of await admin.smembers(`${prefix}unfinished`)) if (!runs.has(id)) out.push(`unfinished: ${id}`);
    for (const k of await admin.keys(`${prefix}run-events:*`)) if (!runs.has(k.slice(`${prefix}run-events:`.length))) out.push(k);
    for (const [seq, d] of Object.entries(await admin.hgetall(`${prefix}ev`))) {
      const e = JSON.parse(d) as { run_id: string };
      if (!runs.has(e.run_id)) out.push(`event ${seq} of missing run ${e.run_id}`);
    }
    for (const [id, run] of Object.entries(await admin.hgetall(`${prefix}eventids`))) if (!runs.has(run)) out.push(`event id ${id} of missing run ${run}`);
    for (const name of jobs) {
      const j = JSON.parse((await admin.hget(`${prefix}job:${name}`, 'd')) as string) as Job;
      if (!runs.has(j.latest_run_id)) out.push(`job ${name}: latest run ${j.latest_run_id} missing`);
    }
    return out;
  }

  /** `n` finished runs of `job`, committed `per` at a time, with `beats` heartbeats each. */
  async function seed(store: Store, w: StoreWriter, job: string, n: number, per = 500, beats = 0): Promise<void> {
    for (let i = 0; i < n; i += per) {
      const specs: Parameters<StoreWriter['batch']>[0] = [];
      for (let k = i; k < Math.min(n, i + per); k++) {
        specs.push({ run: `${job}-${k}`, job, event: 'started', at: T0 + k, id: `${job}-${k}-s` });
        for (let h = 0; h < beats; h++) specs.push({ run: `${job}-${k}`, job, event: 'heartbeat', at: T0 + k });
        specs.push({ run: `${job}-${k}`, job, event: 'succeeded', at: T0 + k + 1, id: `${job}-${k}-e` });
      }
      await store.commit(w.batch(specs));
    }
  }

  it('a commit landing on the job mid-deletion leaves nothing of no job behind, and the job comes back with only that commit', async () => {
    prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(), await open()];
    const w = new StoreWriter();
    await seed(a, w, 'gone', 3000);
    await seed(a, w, 'kept', 3);
    expect(await orphans()).toEqual([]);

    // Replica b holds the job as it is before the deletion, as a replica following a's commits would.
    const wb = new StoreWriter();
    for (const j of (await b.loadState()).jobs) wb.jobs.set(j.job_name, j);
    const late = (writer: StoreWriter): CommitBatch => writer.batch([{ run: 'late', job: 'gone', event: 'started', at: T0 + 10_000, id: 'late-s' }]);

    const all = await admin.zcard(`${prefix}runs`);
    const deleting = a.forgetJob('gone');
    // The deletion is under way (a chunk of runs gone, the job not yet): b commits to the job now.
    await until(async () => (await admin.zcard(`${prefix}runs`)) < all, 10_000, 1);
    const committing = b.commit(late(wb)).then(
      () => 'committed',
      (err: unknown) => err,
    );
    const gone = await deleting;
    const outcome = await committing;
    expect(await orphans()).toEqual([]);
    expect(gone).toEqual(expect.objectContaining({ runs: 3000, events: 6000 }));

    // Refused until the deletion was over (it would have been deleted with the job, or orphaned):
    // b is told the job is gone and reduces its events again on nothing, which starts it afresh.
    expect(outcome).toBeInstanceOf(StoreConflictError);
    expect((outcome as StoreConflictError).removed).toEqual(['gone']);
    await b.commit(late(new StoreWriter()));
    expect(await orphans()).toEqual([]);
    expect((await b.listRuns({ job_name: 'gone', limit: 10 })).runs.map((r) => r.run_id)).toEqual(['late']);
    expect((await b.loadState()).jobs.find((j) => j.job_name === 'gone')?.runs_total).toEqual(expect.objectContaining({ succeeded: 0 }));
    expect((await b.listRuns({ job_name: 'kept', limit: 10 })).runs).toHaveLength(3);
  });

  it('a commit to a run of the job mid-deletion (its events included) is deleted with it or comes after it', async () => {
    prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(), await open()];
    const w = new StoreWriter();
    await seed(a, w, 'gone', 3000);
    // The newest run is still open: deleted last, written to by b meanwhile.
    await a.commit(w.batch([{ run: 'open', job: 'gone', event: 'started', at: T0 + 20_000, id: 'open-s' }]));
    const wb = new StoreWriter();
    for (const j of (await b.loadState()).jobs) wb.jobs.set(j.job_name, j);
    wb.runs.set('open', (await b.getRun('open'))!);

    const all = await admin.zcard(`${prefix}runs`);
    const deleting = a.forgetJob('gone');
    await until(async () => (await admin.zcard(`${prefix}runs`)) < all, 10_000, 1);
    const outcome = await b.commit(wb.batch([{ run: 'open', job: 'gone', event: 'heartbeat', at: T0 + 21_000, id: 'open-hb' }])).then(
      () => 'committed',
      (err: unknown) => err,
    );
    await deleting;
    expect(await orphans()).toEqual([]);
    expect(outcome).toBeInstanceOf(StoreConflictError);
    expect(await admin.exists(`${prefix}job:gone`)).toBe(0);
    expect(await b.findEvents(['open-hb', 'open-s'])).toEqual(new Map());
  });

  it('a second deletion while one is under way is refused as not found; a deletion cut short is finished by deleting again', async () => {
    prefix = `t-${randomUUID()}:`;
    const [a, b, c] = [await open(), await open(), await open()];
    await seed(a, new StoreWriter(), 'gone', 3000);
    const all = await admin.zcard(`${prefix}runs`);
    const deleting = a.forgetJob('gone').then(
      () => 'done',
      (err: unknown) => err,
    );
    await until(async () => (await admin.zcard(`${prefix}runs`)) < all, 10_000, 1);
    await expect(b.forgetJob('gone')).rejects.toThrow(/deleted/);
    // The deleting replica dies (its connection closed mid-deletion).
    await a.close();
    expect(await deleting).toBeInstanceOf(Error);
    const left = await admin.zcard(`${prefix}runs`);
    expect(left).toBeGreaterThan(0);
    expect(await admin.sismember(`${prefix}jobs`, 'gone')).toBe(1);
    // Its fence outlives it by its ttl (a replica that is only slow keeps it); let that pass.
    await admin.pexpire(`${prefix}deleting:gone`, 1);
    await until(async () => (await admin.exists(`${prefix}deleting:gone`)) === 0);
    expect(await c.forgetJob('gone')).toEqual(expect.objectContaining({ runs: left }));
    expect(await orphans()).toEqual([]);
    expect(await admin.zcard(`${prefix}runs`)).toBe(0);
  });

  it('a commit built on the job before its deletion, sent after it, is told the job was removed (not that writes were lost), also once it was started afresh', async () => {
    prefix = `t-${randomUUID()}:`;
    const [a, b, c] = [await open(), await open(), await open()];
    await seed(a, new StoreWriter(), 'gone', 3);
    // b holds the job and its last run as they were, and has not followed the deletion.
    const wb = new StoreWriter();
    for (const j of (await b.loadState()).jobs) wb.jobs.set(j.job_name, j);
    await a.forgetJob('gone');
    const first = await b
      .commit(wb.batch([{ run: 'gone-2', job: 'gone', event: 'heartbeat', at: T0 + 9000, id: 'b1' }, { run: 'x', job: 'gone', event: 'started', at: T0 + 9000, id: 'b2' }]))
      .catch((err: unknown) => err);
    expect(first).toBeInstanceOf(StoreConflictError);
    expect((first as StoreConflictError).removed).toEqual(['gone']);
    // Started afresh through another replica: b's picture is still of the removed job.
    const wc = new StoreWriter();
    await c.commit(wc.batch([{ run: 'y', job: 'gone', event: 'started', at: T0 + 9500, id: 'c1' }]));
    const second = await b.commit(wb.batch([{ run: 'z', job: 'gone', event: 'started', at: T0 + 9900, id: 'b3' }])).catch((err: unknown) => err);
    expect((second as StoreConflictError).removed).toEqual(['gone']);
    // A writer behind on the job started afresh: a plain conflict, as before.
    const behind = new StoreWriter();
    behind.jobs.set('gone', (await b.loadState()).jobs.find((j) => j.job_name === 'gone')!);
    await c.commit(wc.batch([{ run: 'y', job: 'gone', event: 'succeeded', at: T0 + 9960, id: 'c2' }]));
    const third = await b.commit(behind.batch([{ run: 'z2', job: 'gone', event: 'started', at: T0 + 9970, id: 'b4' }])).catch((err: unknown) => err);
    expect(third).toBeInstanceOf(StoreConflictError);
    expect((third as StoreConflictError).removed).toEqual([]);
    expect(await orphans()).toEqual([]);
  });

  it('the removal on the change feed carries the highest revision deleted, which the job started afresh is above, and reaches the deleting replica too', async () => {
    prefix = `t-${randomUUID()}:`;
    const [a, b] = [await open(), await open()];
    const w = new StoreWriter();
    await seed(a, w, 'gone', 3);
    await a.loadState();
    await b.loadState();
    const seen: { a: RemoteChange[]; b: RemoteChange[] } = { a: [], b: [] };
    a.follow?.((c) => seen.a.push(c));
    b.follow?.((c) => seen.b.push(c));
    const gone = await a.forgetJob('gone');
    const revs = [...w.runs.values(), ...w.jobs.values()].map(revisionOf);
    expect(gone.revision).toBe(Math.max(...revs));
    const again = new StoreWriter();
    await b.commit(again.batch([{ run: 'new', job: 'gone', event: 'started', at: T0 + 5000 }]));
    expect(revisionOf(again.jobs.get('gone')!)).toBeGreaterThan(gone.revision!);
    for (const k of ['a', 'b'] as const) {
      await until(() => seen[k].some((c) => c.removed?.includes('gone')));
      expect(seen[k].find((c) => c.removed)?.removedAt).toEqual({ gone: gone.revision });
    }
  });

  it('two agents: pushes through one replica while the other deletes the job all succeed, into the job started afresh, on both', async () => {
    prefix = `t-${randomUUID()}:`;
    const clock = new ManualClock(T0);
    const cfg = { store: { kind: 'redis', redis: { url: redis.url, key_prefix: prefix } } };
    const [pa, pb] = [await startAgent({ clock, config: cfg }), await startAgent({ clock, config: cfg })];
    agents.push(pa, pb);
    // 60k events: a deletion of ~0.5 s, long enough for the push below to meet it under load.
    await seed(await open(), new StoreWriter(), 'gone', 3000, 250, 18);
    // Both replicas learn the seeded job (a replica started before the seeding follows it).
    await until(() => pa.agent.state.getJob('gone') !== undefined && pb.agent.state.getJob('gone') !== undefined);

    const all = await admin.zcard(`${prefix}runs`);
    const deleting = pa.agent.ingest.forget('gone');
    await until(async () => (await admin.zcard(`${prefix}runs`)) < all, 10_000, 1);
    const pushes = [pb.push({ job_name: 'gone', run_id: 'after', event: 'started', event_id: 'after-s' })];
    expect(await deleting).toEqual(expect.objectContaining({ runs: 3000, events: 60_000 }));
    pushes.push(pb.push({ job_name: 'gone', run_id: 'after', event: 'progress', progress: 10, event_id: 'after-p' }));
    expect((await Promise.all(pushes)).map((r) => r.status)).toEqual([200, 200]);
    expect(await orphans()).toEqual([]);
    for (const x of [pa, pb]) {
      await until(() => x.agent.state.getJob('gone')?.latest_run_id === 'after' && x.agent.state.getRun('after')?.progress === 10);
      expect((await x.get('/api/v1/jobs/gone/runs')).body.runs.map((r: { run_id: string }) => r.run_id)).toEqual(['after']);
    }
    // The first push did meet the deletion (waited for it), and nothing was taken for lost writes.
    expect(pb.logs.some((l) => String(l.msg).startsWith('commit conflict') && JSON.stringify(l.keys).includes('deleting:gone'))).toBe(true);
    expect(pb.logs.filter((l) => String(l.msg).includes('acknowledged writes were lost'))).toEqual([]);
  });
});
