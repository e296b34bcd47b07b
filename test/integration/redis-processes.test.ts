/**
 * Two agent processes (the built bin/jobpulse.js) sharing one redis-server: pushes spread
 * over both give the same /api/v1/jobs on both, and killing one replica with -9 loses
 * nothing it acknowledged — the survivor has every event.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasBinary } from '../support/require-binary.js';
import { spawnAgent, type AgentProcess } from '../support/spawn-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';
import { tempDir } from '../support/temp-dir.js';

const has = hasBinary('redis-server', 'redis-server');

describe.skipIf(!has)('two agent processes on one Redis', () => {
  let redis: TestRedis;
  const procs: AgentProcess[] = [];
  const dir = tempDir();
  beforeAll(async () => {
    redis = await startRedis();
    const env = { JOBPULSE_STORE__KIND: 'redis', JOBPULSE_STORE__REDIS__URL: redis.url, JOBPULSE_STORE__REDIS__KEY_PREFIX: `t-${randomUUID()}:` };
    for (let i = 0; i < 2; i++) procs.push(await spawnAgent({ db: `${dir.path}/unused-${i}.db`, env }));
  });
  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    await redis?.cleanup();
    dir.cleanup();
  });

  const post = async (p: AgentProcess, body: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${p.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  const jobs = async (p: AgentProcess): Promise<string> => JSON.stringify(await (await fetch(`${p.url}/api/v1/jobs`)).json());

  it('serves the same jobs from both replicas, and keeps every acknowledged event when one is killed', async () => {
    const [a, b] = procs as [AgentProcess, AgentProcess];
    const acked: { event_id: string; run_id: string }[] = [];
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const via = i % 2 ? a : b;
        const r = await post(via, [
          { job_name: `job-${i % 4}`, run_id: `r-${i}`, event: 'started' },
          { job_name: `job-${i % 4}`, run_id: `r-${i}`, event: 'succeeded', records_processed: 1 },
        ]);
        expect(r.status).toBe(200);
        acked.push(...r.body.results);
      }),
    );
    const t0 = performance.now();
    for (;;) {
      if ((await jobs(a)) === (await jobs(b))) break;
      if (performance.now() - t0 > 10_000) throw new Error('replicas did not converge');
    }
    const list = JSON.parse(await jobs(a)).jobs as { job_name: string }[];
    expect(list.map((j) => j.job_name)).toEqual(['job-0', 'job-1', 'job-2', 'job-3']);
    const m = await (await fetch(`${b.url}/metrics`)).text();
    expect(m).toContain('job_runs_total{job_name="job-0",outcome="succeeded"} 10');

    // kill -9 replica a right after its acknowledgements: replica b still has all of them.
    const last = await post(a, { job_name: 'job-0', run_id: 'after', event: 'started', event_id: 'acked-then-killed' });
    expect(last.status).toBe(200);
    a.child.kill('SIGKILL');
    await a.exited;
    const run = (await (await fetch(`${b.url}/api/v1/runs/after`)).json()) as { state: string; events: { event_id: string }[] };
    expect(run.state).toBe('running');
    expect(run.events.map((e) => e.event_id)).toEqual(['acked-then-killed']);
    for (const x of acked.filter((_, i) => i % 7 === 0)) {
      const r = (await (await fetch(`${b.url}/api/v1/runs/${x.run_id}`)).json()) as { events: { event_id: string }[] };
      expect(r.events.map((e) => e.event_id)).toContain(x.event_id);
    }
  });
});
