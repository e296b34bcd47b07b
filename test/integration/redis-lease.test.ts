/**
 * The singleton lease on a real redis-server: one holder at a time, takeover within the
 * lease time when the holder stops renewing (paused or dead), and fencing: the stale
 * holder's write is refused once a newer holder exists.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLease, type Lease } from '../../src/store/redis/lease.js';
import { hasBinary } from '../support/require-binary.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');
const TTL = 600;

describe.skipIf(!has)('lease for singleton work', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  const leases: Lease[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.stop()));
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(() => server?.cleanup());

  const prefix = (): string => `t-${randomUUID()}:`;
  const make = (key_prefix: string, events: string[] = []): Lease => {
    // One connection per holder: two replicas do not share a client.
    const redis = new Redis(server.url);
    clients.push(redis);
    const l = createLease({
      redis,
      key_prefix,
      name: 'spark-poller',
      ttlMs: TTL,
      onAcquired: (t) => events.push(`acquired ${t}`),
      onLost: () => events.push('lost'),
    });
    leases.push(l);
    return l;
  };
  const acquired = (l: Lease): Promise<number> =>
    new Promise((resolve) => {
      const poll = (): void => (l.held() ? resolve(l.token() as number) : void setTimeout(poll, 5));
      poll();
    });

  it('grants the lease to one holder at a time, with increasing fencing tokens', async () => {
    const p = prefix();
    const a = make(p);
    const b = make(p);
    expect(await a.tryAcquire()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    expect(await a.renew()).toBe(true);
    expect(await b.tryAcquire()).toBe(false);
    const ta = a.token() as number;
    await a.stop();
    // Released on stop: the other replica takes over at once, with a newer token.
    expect(await b.tryAcquire()).toBe(true);
    expect(b.token()).toBeGreaterThan(ta);
  });

  it('a holder that stops renewing loses the lease within the ttl; its fenced write is then refused', async () => {
    const p = prefix();
    const eventsA: string[] = [];
    const a = make(p, eventsA);
    const b = make(p);
    a.start();
    const ta = await acquired(a);
    expect(await a.fencedSet(`${p}spark-results`, 'from A')).toBe(true);
    b.start();
    // While A renews, B's campaign cannot win: check on B's own attempts, no sleeping.
    for (let i = 0; i < 3; i++) expect(await b.tryAcquire()).toBe(false);

    // A is paused (GC pause, SIGSTOP): it stops renewing but still believes it holds the token.
    a.pause();
    const pausedAt = performance.now();
    const tb = await acquired(b);
    const takeoverMs = performance.now() - pausedAt;
    expect(tb).toBeGreaterThan(ta);
    // Bound: the ttl counted from A's last renewal (before the pause), since B retries at the
    // moment the lease expires; the slack is timer and Redis round-trip delay on a loaded machine.
    expect(takeoverMs).toBeLessThan(TTL + 250);

    // A wakes up with its old token: Redis refuses its write, B's lands.
    expect(await a.fencedSet(`${p}spark-results`, 'stale A')).toBe(false);
    expect(await b.fencedSet(`${p}spark-results`, 'from B')).toBe(true);
    const check = new Redis(server.url);
    clients.push(check);
    expect(await check.get(`${p}spark-results`)).toBe('from B');
    // A's renewal fails and it learns it lost the lease; it cannot revive B's lease.
    expect(await a.renew()).toBe(false);
    expect(a.held()).toBe(false);
    expect(eventsA).toEqual([`acquired ${ta}`, 'lost']);
    expect(await b.renew()).toBe(true);
  });

  it('held() turns false on its own once the ttl passed without a renewal', async () => {
    const p = prefix();
    const a = make(p);
    expect(await a.tryAcquire()).toBe(true);
    expect(a.held()).toBe(true);
    await new Promise<void>((resolve) => {
      const poll = (): void => (a.held() ? void setTimeout(poll, 10) : resolve());
      poll();
    });
    // Local view is conservative: Redis frees the lease at most a round trip later.
    const b = make(p);
    while (!(await b.tryAcquire())) await new Promise((r) => setTimeout(r, 5));
    expect(await a.renew()).toBe(false);
  });
});
