/**
 * On Redis, the singleton sources (here the detectors) run on exactly one replica, under
 * the lease; when that replica stops renewing, another takes over within the lease time.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LeasedSource } from '../../src/sources/leased-source.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');
const TTL_MS = 1000;

describe.skipIf(!has)('singleton sources under the lease', () => {
  let redis: TestRedis;
  let agents: TestAgent[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    agents = [];
  });
  afterAll(() => redis?.cleanup());

  const leased = (a: TestAgent): LeasedSource[] => a.agent.sources.filter((s): s is LeasedSource => 'lease' in s);
  const waitFor = async (probe: () => boolean, timeoutMs: number): Promise<number> => {
    const t0 = performance.now();
    while (!probe()) {
      if (performance.now() - t0 > timeoutMs) throw new Error('condition not reached');
      await new Promise((r) => setTimeout(r, 10));
    }
    return performance.now() - t0;
  };

  it('runs the detectors on one replica only and moves them when the holder stops renewing', async () => {
    const key_prefix = `t-${randomUUID()}:`;
    const config = { store: { kind: 'redis', redis: { url: redis.url, key_prefix, lease_ttl: `${TTL_MS}ms` } }, detectors: { enabled: true } };
    for (let i = 0; i < 3; i++) agents.push(await startAgent({ config }));
    const all = agents.flatMap(leased);
    expect(all).toHaveLength(3);
    await waitFor(() => all.some((s) => s.active()), 5000);
    expect(all.filter((s) => s.active())).toHaveLength(1);

    // The holder freezes (as under SIGSTOP): no renewals. Another replica takes over.
    const holder = all.find((s) => s.active()) as LeasedSource;
    const oldToken = holder.lease.token() as number;
    holder.lease.pause();
    const others = all.filter((s) => s !== holder);
    const ms = await waitFor(() => others.some((s) => s.active()), 3 * TTL_MS);
    expect(ms).toBeLessThan(TTL_MS + TTL_MS / 3 + 500);
    const next = others.find((s) => s.active()) as LeasedSource;
    expect(next.lease.token()).toBeGreaterThan(oldToken);
    expect(others.filter((s) => s.active())).toHaveLength(1);
    // The frozen holder's fenced writes are refused from now on.
    expect(await holder.lease.fencedSet(`${key_prefix}probe`, 'stale')).toBe(false);
    // Woken up, it learns it lost the lease and stops its detectors.
    expect(await holder.lease.renew()).toBe(false);
    await waitFor(() => !holder.active(), 2000);

    // Graceful stop releases the lease: a standby takes over without waiting for expiry.
    const nextAgent = agents.find((a) => leased(a).includes(next)) as TestAgent;
    await nextAgent.stop();
    agents = agents.filter((a) => a !== nextAgent);
    const rest = agents.flatMap(leased).filter((s) => s !== holder);
    await waitFor(() => rest.some((s) => s.active()), TTL_MS);
  });
});
