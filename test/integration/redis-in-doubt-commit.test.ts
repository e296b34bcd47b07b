/**
 * A commit whose answer never came (Redis frozen past the command timeout) may still be run
 * once Redis wakes up. The replica that sent it published nothing, so it must take that commit
 * from the change stream like another replica's, while still skipping its own answered commits.
 * A real redis-server is frozen with SIGSTOP and woken with SIGCONT.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/domain/errors.js';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import type { RemoteChange, Store } from '../../src/store/store.js';
import { hasBinary } from '../support/require-binary.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { StoreWriter } from '../support/store-writer.js';

const has = hasBinary('redis-server', 'redis-server');

async function until(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!probe()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!has)('a commit in doubt', () => {
  let redis: TestRedis;
  let pid = 0;
  const stores: Store[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    const admin = new Redis(redis.url);
    pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1]);
    admin.disconnect();
    expect(pid).toBeGreaterThan(0);
  });
  afterAll(async () => {
    if (pid) process.kill(pid, 'SIGCONT');
    await Promise.all(stores.map((s) => s.close()));
    await redis?.cleanup();
  });

  it('reaches the replica that sent it once Redis has run it; answered own commits stay skipped', async () => {
    const key_prefix = `t-${randomUUID()}:`;
    const open = async (): Promise<Store> => {
      const s = await createRedisStore({ url: redis.url, key_prefix, command_timeout_ms: 300 });
      stores.push(s);
      await s.loadState();
      return s;
    };
    const r1 = await open();
    const r2 = await open();
    const seen: RemoteChange[] = [];
    r2.follow?.((c) => seen.push(c));
    const w1 = new StoreWriter();
    const w2 = new StoreWriter();
    const at = Date.UTC(2026, 10, 23, 12);

    // Answered: r2 published it itself, the follower must not read it again.
    await r2.commit(w2.batch([{ run: 'own1', job: 'own', event: 'started', at, id: 'e-own1' }]));

    process.kill(pid, 'SIGSTOP');
    let failure: unknown;
    try {
      await r2.commit(w2.batch([{ run: 'frz1', job: 'frz', event: 'started', at, id: 'e-frz1' }])).catch((err: unknown) => (failure = err));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as Error).message).toMatch(/Command timed out/);

    // Redis ran it on waking: it is in the store, and r2's follower delivers it.
    await until(() => seen.some((c) => c.runs.some((r) => r.run_id === 'frz1')));
    const change = seen.find((c) => c.runs.some((r) => r.run_id === 'frz1'));
    expect(change?.jobs.map((j) => j.job_name)).toEqual(['frz']);
    expect((await r1.getRun('frz1'))?.state).toBe('running');

    // Another replica's commit after it: once r2 has followed that far, its answered commit
    // (own1) has been passed over, not delivered.
    await r1.commit(w1.batch([{ run: 'm1', job: 'marker', event: 'started', at, id: 'e-m1' }]));
    await until(() => seen.some((c) => c.runs.some((r) => r.run_id === 'm1')));
    expect(seen.flatMap((c) => c.runs.map((r) => r.run_id))).not.toContain('own1');
    // Settled: r2's answered commits after it are skipped again, and frz1 came once.
    await r2.commit(w2.batch([{ run: 'own2', job: 'own', event: 'started', at, id: 'e-own2' }]));
    await r1.commit(w1.batch([{ run: 'm2', job: 'marker', event: 'started', at, id: 'e-m2' }]));
    await until(() => seen.some((c) => c.runs.some((r) => r.run_id === 'm2')));
    expect(seen.flatMap((c) => c.runs.map((r) => r.run_id))).not.toContain('own2');
    expect(seen.filter((c) => c.runs.some((r) => r.run_id === 'frz1'))).toHaveLength(1);
  });
});
