/**
 * Leader failover with real agent processes (bin/jobpulse.js) on one redis-server, polling
 * the fake Spark server, which counts requests per replica:
 *
 * (a) kill -9 of the leader mid-cycle: another replica holds the lease within the lease
 *     time, Spark never sees two replicas polling at once, and every run is counted once.
 * (b) SIGSTOP of the leader past its lease with a Spark answer in flight, a new leader
 *     finishes the run, SIGCONT: the old leader's stale write is refused by the fencing
 *     token (counted on its /metrics) and the new leader's result stands.
 *
 * Lease 1 s (the minimum store.redis.lease_ttl), poll interval 100 ms: seconds, no sleeps.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeSpark, standaloneSequence, type FakeSpark } from '../support/fake-spark.js';
import { hasBinary } from '../support/require-binary.js';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { tempDir } from '../support/temp-dir.js';
import { metricValue, waitFor } from '../support/wait-for.js';

const has = hasBinary('redis-server', 'redis-server');
const TTL_MS = 1000;
/** Expiry, then at most one acquire attempt period (ttl/3), then scheduling slack. */
const TAKEOVER_BOUND_MS = TTL_MS + TTL_MS / 3 + 700;

describe.skipIf(!has)('leader failover across agent processes (Spark poller under the lease)', () => {
  let redis: TestRedis;
  let fake: FakeSpark;
  const dir = tempDir();
  const replicas: { name: string; proc: AgentProcess; gone: boolean }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    fake = await startFakeSpark();
    const key_prefix = `t-${randomUUID()}:`;
    for (let i = 0; i < 3; i++) {
      const name = `r${i}`;
      const file = `${dir.path}/${name}.yaml`;
      writeFileSync(
        file,
        stringify({
          store: { kind: 'redis', redis: { url: redis.url, key_prefix, lease_ttl: `${TTL_MS}ms` } },
          detectors: { enabled: false },
          log: { level: 'info' },
          spark: {
            clusters: [{ name: 'c1', kind: 'standalone-rest', base_url: fake.replicaUrl(name), interval: '100ms', request_timeout: '30s' }],
          },
        }),
      );
      replicas.push({ name, proc: await spawnAgent({ db: `${dir.path}/${name}.db`, env: { JOBPULSE_CONFIG: file } }), gone: false });
    }
  });
  afterAll(async () => {
    for (const r of replicas) {
      if (r.proc.child.exitCode === null && r.proc.child.signalCode === null) {
        r.proc.child.kill('SIGCONT');
        r.proc.child.kill('SIGKILL');
        await r.proc.exited;
      }
    }
    await fake?.close();
    await redis?.cleanup();
    dir.cleanup();
  });

  const alive = () => replicas.filter((r) => !r.gone);
  const metrics = async (r: { proc: AgentProcess }): Promise<string> => (await fetch(`${r.proc.url}/metrics`)).text();
  const holdsSpark = async (r: { proc: AgentProcess }): Promise<boolean> => metricValue(await metrics(r), 'jobpulse_lease_held{lease="spark"}') === 1;
  /** The one replica holding the spark lease (`paused` is not asked: a stopped process does not answer). */
  const leader = async (paused?: { name: string }) => {
    const held = [];
    for (const r of alive()) if (r !== paused && (await holdsSpark(r))) held.push(r);
    return held.length === 1 ? held[0] : undefined;
  };
  const run = async (r: { proc: AgentProcess }, id: string) => (await (await fetch(`${r.proc.url}/api/v1/runs/${id}`)).json()) as { state: string; events: { event: string; event_id: string }[] };
  const push = async (r: { proc: AgentProcess }, body: unknown): Promise<void> => {
    const res = await fetch(`${r.proc.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
  };

  it('(a) kill -9 of the leader mid-cycle: takeover within the lease, one poller at a time, no run counted twice', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `d-a${i}`);
    ids.forEach((id, i) => {
      const [, running, finished] = standaloneSequence(id, 'finished') as [string, string, string];
      // Runs finish one after another over several cycles, so the kill lands mid-way.
      fake.route(`/v1/submissions/status/${id}`, [...Array<string>(3 + 2 * i).fill(running), finished]);
    });
    fake.setLatency(100);
    fake.resetStats();
    await push(replicas[0] as (typeof replicas)[0], ids.map((id, i) => ({ job_name: 'spark-a', run_id: `a-${i}`, event: 'submitted', labels: { spark_submission_id: id } })));

    const first = await waitFor(leader, { what: 'one spark leader' });
    // Mid-cycle: the leader has a Spark request in flight and the runs have started, none finished.
    await waitFor(async () => (await run(first, 'a-0')).state === 'running', { what: 'runs started' });
    await waitFor(() => (fake.replicas.get(first.name)?.inFlight ?? 0) > 0, { what: 'leader request in flight' });
    const killedAt = performance.now();
    first.proc.child.kill('SIGKILL');
    first.gone = true;
    await first.proc.exited;

    const next = await waitFor(leader, { what: 'a new spark leader', timeoutMs: 10_000 });
    const takeoverMs = performance.now() - killedAt;
    expect(next.name).not.toBe(first.name);
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS);

    for (const r of alive()) {
      await waitFor(async () => metricValue(await metrics(r), 'job_runs_total{job_name="spark-a",outcome="succeeded"}') === ids.length, {
        what: `all runs succeeded on ${r.name}`,
        timeoutMs: 15_000,
      });
    }
    // Counted once: exactly one terminal event per run, and the counter stays at the run count.
    for (let i = 0; i < ids.length; i++) {
      const events = (await run(next, `a-${i}`)).events;
      expect(events.filter((e) => e.event === 'succeeded')).toHaveLength(1);
      expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
    }
    for (const r of alive()) expect(metricValue(await metrics(r), 'job_runs_total{job_name="spark-a",outcome="succeeded"}')).toBe(ids.length);
    expect(fake.replicas.get(next.name)?.requests ?? 0).toBeGreaterThan(0);
    expect(fake.maxPollersAtOnce).toBe(1);
    console.log(`failover after kill -9: new leader serving after ${Math.round(takeoverMs)} ms (lease ${TTL_MS} ms)`);
  });

  it('(b) a leader paused past its lease (SIGSTOP/SIGCONT) cannot overwrite the new leader’s result', async () => {
    const path = '/v1/submissions/status/d-b';
    const [submitted, running, finished] = standaloneSequence('d-b', 'finished') as [string, string, string];
    fake.setLatency(0);
    fake.route(path, [submitted]);
    const old = await waitFor(leader, { what: 'a spark leader' });
    await push(old, { job_name: 'spark-b', run_id: 'b-1', event: 'submitted', labels: { spark_submission_id: 'd-b' } });
    await waitFor(() => fake.hits(path) > 0, { what: 'leader polls the run' });

    // The leader's next answer says "running" and is held 400 ms; the answer after that says "finished".
    fake.setReplicaLatency(old.name, 400);
    fake.resetStats();
    fake.route(path, [running, finished]);
    await waitFor(() => fake.hits(path) > 0 && (fake.replicas.get(old.name)?.inFlight ?? 0) > 0, { what: 'stale answer in flight to the leader' });
    old.proc.child.kill('SIGSTOP');

    // The standby takes the lease, polls "finished" and commits the run's end.
    const next = await waitFor(() => leader(old), { what: 'a standby takes the lease', timeoutMs: TAKEOVER_BOUND_MS + 2000 });
    await waitFor(async () => (await run(next, 'b-1')).state === 'succeeded', { what: 'new leader finishes the run' });
    const settled = await run(next, 'b-1');

    // The old leader wakes up with "running" for a run it still believes submitted.
    old.proc.child.kill('SIGCONT');
    await waitFor(async () => (metricValue(await metrics(old), 'jobpulse_lease_fenced_events_total{lease="spark"}') ?? 0) >= 1, {
      what: 'stale write refused by the fence on the old leader',
    });
    await waitFor(async () => !(await holdsSpark(old)), { what: 'old leader knows it lost the lease' });
    expect(old.proc.output()).toContain('write of a stale lease holder refused');

    for (const r of alive()) {
      const now = await run(r, 'b-1');
      expect(now.state).toBe('succeeded');
      expect(now.events.map((e) => e.event_id)).toEqual(settled.events.map((e) => e.event_id));
      expect(metricValue(await metrics(r), 'job_runs_total{job_name="spark-b",outcome="succeeded"}')).toBe(1);
    }
    expect(fake.maxPollersAtOnce).toBe(1);
  });
});
