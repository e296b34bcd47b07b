import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const HOUR = 3600_000;

describe('history, stats, retention and auth', () => {
  let a: TestAgent | undefined;
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });

  it('computes window stats with a trend against the previous window', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 20));
    a = await startAgent({ clock });
    const run = async (id: string, minutes: number, outcome: 'succeeded' | 'failed') => {
      await a!.push({ job_name: 'etl', run_id: id, event: 'started' });
      clock.advance(minutes * 60_000);
      await a!.push({ job_name: 'etl', run_id: id, event: outcome });
      clock.advance(HOUR);
    };
    await run('p1', 10, 'succeeded'); // previous window
    await run('p2', 10, 'failed');
    clock.advance(20 * HOUR);
    for (const [i, m] of [10, 20, 30, 40].entries()) await run(`c${i}`, m, i === 3 ? 'failed' : 'succeeded');
    const stats = (await a.get('/api/v1/stats?window=24h&job_name=etl')).body;
    const etl = stats.jobs[0];
    expect(etl.runs).toBe(4);
    expect(etl.success_rate).toBe(0.75);
    expect(etl.duration_seconds.p50).toBe(1200);
    expect(etl.duration_seconds.p95).toBe(2400);
    expect(etl.previous.runs).toBe(2);
    expect(etl.trend.success_rate).toBe(0.25);
    expect((await a.get('/api/v1/stats?window=soon')).status).toBe(400);
  });

  it('lists every job by name, or a page at a time with a cursor, streamed as one JSON document', async () => {
    a = await startAgent();
    const names = Array.from({ length: 600 }, (_, i) => `job-${String(i).padStart(3, '0')}`);
    await a.push(names.map((job_name, i) => ({ job_name, event: i % 5 === 0 ? 'failed' : 'started' })));
    const all = await a.get('/api/v1/jobs');
    expect(all.status).toBe(200);
    expect(all.body.jobs.map((j: { job_name: string }) => j.job_name)).toEqual(names);
    expect(all.body).not.toHaveProperty('next_cursor');

    const paged: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const r = await a.get(`/api/v1/jobs?state=failed&limit=50${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...r.body.jobs.map((j: { job_name: string }) => j.job_name));
      cursor = r.body.next_cursor;
      if (cursor === null) break;
    }
    expect(paged).toEqual(names.filter((_, i) => i % 5 === 0));
    expect((await a.get('/api/v1/jobs?limit=0')).status).toBe(400);
    expect((await a.get('/api/v1/jobs?limit=10001')).status).toBe(400);
  });

  it('paginates a job history with a cursor and filters by state', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 20));
    a = await startAgent({ clock });
    for (let i = 0; i < 7; i++) {
      await a.push({ job_name: 'p', run_id: `r${i}`, event: 'started' });
      clock.advance(1000);
      await a.push({ job_name: 'p', run_id: `r${i}`, event: i % 2 ? 'failed' : 'succeeded' });
    }
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const page = (await a.get(`/api/v1/jobs/p/runs?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.runs.map((r: { run_id: string }) => r.run_id));
      if (!page.next_cursor) {
        // The last page says so with null, as documented, not by leaving the key out.
        expect(page).toHaveProperty('next_cursor', null);
        break;
      }
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(['r6', 'r5', 'r4', 'r3', 'r2', 'r1', 'r0']);

    // A cursor the API did not give out is an error, not page 1 again (a client loop never ends).
    const first = (await a.get('/api/v1/jobs/p/runs?limit=3')).body.next_cursor as string;
    for (const bad of ['garbage', first.slice(0, 6), `${first}!`, Buffer.from('12:r1').toString('base64')]) {
      for (const path of [`/api/v1/jobs/p/runs?cursor=${encodeURIComponent(bad)}`, `/api/v1/runs/r1/children?cursor=${encodeURIComponent(bad)}`]) {
        const r = await a.get(path);
        expect(r.status, path).toBe(400);
        expect(r.body).toMatchObject({ code: 'validation_failed', issues: [{ path: 'cursor', message: expect.stringContaining('next_cursor') }] });
      }
    }
    expect((await a.get('/api/v1/jobs/p/runs?limit=3&cursor=')).body.runs).toHaveLength(3);
    const failed = (await a.get('/api/v1/jobs/p/runs?state=failed')).body.runs;
    expect(failed.map((r: { run_id: string }) => r.run_id)).toEqual(['r5', 'r3', 'r1']);
    expect((await a.get('/api/v1/jobs?state=succeeded')).body.jobs).toHaveLength(1);
    expect((await a.get('/api/v1/jobs?state=bogus')).status).toBe(400);
  });

  it('prunes old events and finished runs but keeps each job\'s latest run', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    a = await startAgent({ clock, config: { retention: { events: '1d', runs: '2d' } } });
    for (const id of ['old1', 'old2']) {
      await a.push({ job_name: 'r', run_id: id, event: 'started' });
      await a.push({ job_name: 'r', run_id: id, event: 'succeeded' });
    }
    clock.advance(3 * 24 * HOUR);
    expect(await a.agent.retention.runOnce()).toEqual({ events: 4, runs: 1, jobs: 0 });
    expect((await a.get('/api/v1/runs/old1')).status).toBe(404);
    const latest = (await a.get('/api/v1/runs/old2')).body;
    expect(latest.state).toBe('succeeded');
    expect(latest.events).toHaveLength(0);
    expect((await a.get('/metrics')).text).toContain('jobpulse_retention_pruned_total{kind="events"} 4');
  });

  it('with retention.jobs, deletes jobs idle that long (history and all), never one with an unfinished run', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    a = await startAgent({ clock, config: { retention: { events: '30d', runs: '90d', idle_job_ttl: '7d', jobs: '30d' }, detectors: { enabled: false } } });
    await a.push([{ job_name: 'one-off-2025-12-31', run_id: 'x1', event: 'started' }, { job_name: 'one-off-2025-12-31', run_id: 'x1', event: 'succeeded' }]);
    await a.push({ job_name: 'hung', run_id: 'h1', event: 'started' });
    clock.advance(20 * 24 * HOUR);
    await a.push([{ job_name: 'daily', run_id: 'd1', event: 'started' }, { job_name: 'daily', run_id: 'd1', event: 'succeeded' }]);
    clock.advance(11 * 24 * HOUR);
    expect(await a.agent.retention.runOnce()).toEqual({ events: 3, runs: 0, jobs: 1 });
    const names = (await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name);
    expect(names).toEqual(['daily', 'hung']);
    expect((await a.get('/api/v1/runs/x1')).status).toBe(404);
    expect((await a.get('/metrics')).text).toContain('jobpulse_retention_pruned_total{kind="jobs"} 1');
  });

  it('retention.jobs does not delete a job whose push was committing while the sweep listed it idle (the push is acknowledged)', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    a = await startAgent({ clock, config: { retention: { events: '30d', runs: '90d', idle_job_ttl: '7d', jobs: '30d' }, detectors: { enabled: false } } });
    await a.push([{ job_name: 'dated', run_id: 'old', event: 'succeeded' }, { job_name: 'gone', run_id: 'g', event: 'succeeded' }]);
    clock.advance(31 * 24 * HOUR);
    // The push is reduced and committing (not in memory yet) when the sweep lists idle jobs,
    // right after its prune.
    const store = a.agent.store;
    const prune = store.prune.bind(store);
    let push: ReturnType<typeof a.agent.ingest.ingest> | undefined;
    store.prune = async (q) => {
      const out = await prune(q);
      push = a!.agent.ingest.ingest([{ job_name: 'dated', run_id: 'fresh', event: 'started', event_id: 'fresh-start', source: 'api', timestamp: clock.now() }]);
      await new Promise((r) => setImmediate(r));
      return out;
    };
    const swept = await a.agent.retention.runOnce();
    expect((await push)?.[0]).toMatchObject({ result: 'applied' });
    expect(swept.jobs).toBe(1);
    expect((await a.get('/api/v1/runs/fresh')).body.events.map((e: { event_id: string }) => e.event_id)).toEqual(['fresh-start']);
    expect((await a.get('/api/v1/jobs/gone')).status).toBe(404);
  });

  it('guards pushes with write tokens and reads with read tokens', async () => {
    a = await startAgent({ config: { auth: { write_tokens: ['w-secret'], read_tokens: ['r-secret'] } } });
    const ev = { job_name: 'sec', event: 'started' };
    const noAuth = await a.push(ev);
    expect(noAuth.status).toBe(401);
    expect(noAuth.body.code).toBe('unauthorized');
    expect((await a.push(ev, { authorization: 'Bearer r-secret' })).status).toBe(401);
    expect((await a.push(ev, { authorization: 'Bearer w-secret' })).status).toBe(200);
    expect((await a.get('/api/v1/jobs')).status).toBe(401);
    expect((await a.get('/metrics')).status).toBe(401);
    expect((await a.get('/api/v1/jobs', { authorization: 'Bearer r-secret' })).status).toBe(200);
    expect((await a.get('/metrics', { authorization: 'Bearer w-secret' })).status).toBe(200);
    expect((await a.get('/healthz')).status).toBe(200);
    expect((await a.get('/readyz')).body.status).toBe('ready');
  });
});
