/**
 * Fencing on write, through the one data flow (source → ingest → Redis commit script):
 * a batch written under a lease's fencing token is refused once a newer token has been
 * granted for that lease — typed error, counted, logged, nothing written — while an
 * unfenced push queued in the same tick still commits (a stale leader's batch never
 * takes anyone else's events down with it). The token the current leader holds writes.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedWriteError } from '../../src/domain/errors.js';
import { fencedIngest } from '../../src/sources/leased-source.js';
import { createLease } from '../../src/store/redis/lease.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { metricValue } from '../support/wait-for.js';

const has = hasBinary('redis-server', 'redis-server');

describe.skipIf(!has)('fencing token checked on write (Redis commit)', () => {
  let redis: TestRedis;
  let agent: TestAgent;
  let client: Redis;
  const key_prefix = `t-${randomUUID()}:`;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    agent = await startAgent({ config: { store: { kind: 'redis', redis: { url: redis.url, key_prefix } } } });
  });
  afterAll(async () => {
    await agent?.stop();
    client?.disconnect();
    await redis?.cleanup();
  });

  it('refuses the old holder’s batch after a newer grant, and accepts the new holder’s', async () => {
    const old = createLease({ redis: client, key_prefix, name: 'spark', ttlMs: 1000 });
    expect(await old.tryAcquire()).toBe(true);
    const oldToken = old.token() as number;
    const stale = fencedIngest(agent.agent.ingest.ingest, 'spark');
    stale.cell.token = oldToken;

    // While the old holding is current, its writes go through.
    const ok = await stale.ingest([{ job_name: 'spark-etl', run_id: 'r-1', event: 'started', source: 'spark:c1' }]);
    expect(ok[0]?.result).toBe('applied');

    // The old holder stalls; its lease expires (released here, as expiry would) and another replica wins it.
    old.pause();
    await client.del(`${key_prefix}lease:spark`);
    const next = createLease({ redis: client, key_prefix, name: 'spark', ttlMs: 1000 });
    expect(await next.tryAcquire()).toBe(true);
    const newToken = next.token() as number;
    expect(newToken).toBeGreaterThan(oldToken);

    // The stale holder wakes up and writes; an ordinary push arrives in the same tick.
    const staleWrite = stale.ingest([{ job_name: 'spark-etl', run_id: 'r-1', event: 'failed', source: 'spark:c1', event_id: 'stale-verdict' }]);
    const push = agent.push({ job_name: 'other', run_id: 'p-1', event: 'started' });
    const err = await staleWrite.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FencedWriteError);
    expect((err as FencedWriteError).current).toBe(newToken);
    expect((await push).status).toBe(200);

    // Nothing of the refused batch reached Redis; the run is as the current leader left it.
    expect(await client.hexists(`${key_prefix}eventids`, 'stale-verdict')).toBe(0);
    const run = await agent.get('/api/v1/runs/r-1');
    expect(run.body.state).toBe('running');
    expect(run.body.events.map((e: { event: string }) => e.event)).toEqual(['started']);

    // Counted and logged.
    const metrics = (await agent.get('/metrics')).text;
    expect(metricValue(metrics, 'jobpulse_lease_fenced_events_total{lease="spark"}')).toBe(1);
    expect(agent.logs.some((l) => String(l.msg ?? l.message).includes('stale lease holder refused') && l.current === newToken)).toBe(true);

    // The new holder's token writes.
    const current = fencedIngest(agent.agent.ingest.ingest, 'spark');
    current.cell.token = newToken;
    const done = await current.ingest([{ job_name: 'spark-etl', run_id: 'r-1', event: 'succeeded', source: 'spark:c1' }]);
    expect(done[0]?.state).toBe('succeeded');

    // A source that never held the lease cannot write at all.
    const never = fencedIngest(agent.agent.ingest.ingest, 'clock');
    await expect(never.ingest([{ job_name: 'x', event: 'started', source: 'clock' }])).rejects.toBeInstanceOf(FencedWriteError);
    await next.stop();
  });
});
