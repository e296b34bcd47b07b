/**
 * DELETE /api/v1/jobs/{job_name}: a decommissioned or mistyped job leaves /metrics, the jobs
 * list and the history, and frees its slot under limits.max_jobs (a job never left before, so
 * max_jobs capped the distinct names an agent would ever take). Admin only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const ADMIN = { authorization: 'Bearer admin-secret' };
const WRITE = { authorization: 'Bearer write-secret' };
const config = { limits: { max_jobs: 2 }, auth: { admin_tokens: ['admin-secret'], write_tokens: ['write-secret'] }, jobs: { defaults: { stuck_after: '1m' } } };

describe('deleting a job', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir();
  });
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 4));
  let a: TestAgent | undefined;
  afterEach(async () => {
    await a?.stop();
    a = undefined;
    dir.cleanup();
  });
  const del = (name: string, headers: Record<string, string>): Promise<Response> =>
    fetch(`${(a as TestAgent).url}/api/v1/jobs/${encodeURIComponent(name)}`, { method: 'DELETE', headers });

  it('removes it from memory, /metrics and the history, frees its max_jobs slot, and stays gone after a restart', async () => {
    a = await startAgent({ clock, config, dir: dir.path });
    const started = await a.push({ job_name: 'typo-etl', event: 'started', event_id: 'once' }, WRITE);
    const runId = started.body.run_id as string;
    await a.push({ job_name: 'typo-etl', event: 'progress', progress: 40 }, WRITE);
    await a.push({ job_name: 'typo-etl', run_id: 'typo-child', parent_run_id: runId, event: 'started' }, WRITE);
    expect(a.agent.batches.counts(runId)).toMatchObject({ total: 1 });
    await a.push([{ job_name: 'nightly', event: 'started' }, { job_name: 'nightly', event: 'succeeded' }], WRITE);
    expect((await a.push({ job_name: 'third', event: 'started' }, WRITE)).status).toBe(429);

    expect((await del('typo-etl', {})).status).toBe(401);
    const writer = await del('typo-etl', WRITE);
    expect(writer.status).toBe(401);
    expect(((await writer.json()) as { error: string }).error).toContain('admin access');
    const res = await del('typo-etl', ADMIN);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 'typo-etl', runs: 2, events: 3 });
    expect(a.agent.batches.counts(runId)).toBeUndefined();

    expect((await a.get('/api/v1/jobs', WRITE)).body.jobs.map((j: { job_name: string }) => j.job_name)).toEqual(['nightly']);
    expect((await a.get('/api/v1/jobs/typo-etl', WRITE)).status).toBe(404);
    expect((await a.get(`/api/v1/runs/${runId}`, WRITE)).status).toBe(404);
    const metrics = (await a.get('/metrics', WRITE)).text;
    expect(metrics).not.toContain('typo-etl');
    expect(metrics).toContain('job_runs_total{job_name="nightly",outcome="succeeded"} 1');
    // The detectors no longer see its running run: nothing comes back when it would be stuck.
    clock.advance(5 * 60_000);
    await a.agent.detectors?.sweep();
    expect((await a.get('/api/v1/jobs/typo-etl', WRITE)).status).toBe(404);
    expect((await del('typo-etl', ADMIN)).status).toBe(404);

    // Its slot is free; its event id may be used again (a new job of the same name is new).
    expect((await a.push({ job_name: 'third', event: 'started' }, WRITE)).status).toBe(200);
    expect((await del('third', ADMIN)).status).toBe(200);
    const again = await a.push({ job_name: 'typo-etl', event: 'started', event_id: 'once' }, WRITE);
    expect(again.body.results[0].result).toBe('applied');
    expect(again.body.run_id).not.toBe(runId);

    const before = (await a.get('/api/v1/jobs', WRITE)).body;
    await a.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    expect((await a.get('/api/v1/jobs', WRITE)).body).toEqual(before);
    expect((await a.get(`/api/v1/runs/${runId}`, WRITE)).status).toBe(404);
  });

  it("from the status page: the job page's button, behind the admin token and from the same site only", async () => {
    a = await startAgent({ clock, config, dir: dir.path });
    const name = 'mistyped "<etl>"';
    await a.push({ job_name: name, event: 'started' }, WRITE);
    const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`ops:${token}`).toString('base64')}` });
    const page = await fetch(`${a.url}/jobs/${encodeURIComponent(name)}`, { headers: basic('write-secret') });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('Delete job');
    expect(html).toContain('<input type="hidden" name="job_name" value="mistyped &quot;&lt;etl&gt;&quot;"');
    const post = (headers: Record<string, string>) =>
      fetch(`${(a as TestAgent).url}/jobs/delete`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ job_name: name }).toString(),
      });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Basic');
    expect((await post(basic('write-secret'))).status).toBe(401);
    expect((await post({ ...basic('admin-secret'), origin: 'http://evil.example' })).status).toBe(403);
    expect((await a.get('/api/v1/jobs', WRITE)).body.jobs).toHaveLength(1);
    const ok = await post(basic('admin-secret'));
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    expect((await a.get('/api/v1/jobs', WRITE)).body.jobs).toEqual([]);
    expect((await post(basic('admin-secret'))).status).toBe(404);
  });

  it('pushes racing a deletion are all answered, and memory and store agree afterwards', async () => {
    a = await startAgent({ clock, config: { auth: { admin_tokens: ['admin-secret'] } }, dir: dir.path });
    const open = { authorization: 'Bearer admin-secret' };
    for (let i = 0; i < 20; i++) await a.push({ job_name: 'busy', run_id: `old-${i}`, event: 'started' }, open);
    const pushes = Array.from({ length: 60 }, (_, i) => a!.push([{ job_name: 'busy', run_id: `new-${i}`, event: 'started' }, { job_name: 'busy', run_id: `new-${i}`, event: 'succeeded' }], open));
    const deleted = del('busy', ADMIN);
    const statuses = (await Promise.all(pushes)).map((r) => r.status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect((await deleted).status).toBe(200);
    // Whatever landed after the deletion is the job now, the same in memory and after a restart.
    const metrics = async (): Promise<string[]> =>
      (await a!.get('/metrics', open)).text
        .split('\n')
        .filter((l) => l.startsWith('job_') && l.includes('"busy"'))
        .sort();
    const before = await metrics();
    const runs = (await a.get('/api/v1/jobs/busy/runs?limit=1000', open)).body.runs ?? [];
    for (const r of runs) expect(r.run_id).toMatch(/^new-/);
    await a.stop();
    a = await startAgent({ clock, config: { auth: { admin_tokens: ['admin-secret'] } }, dir: dir.path });
    expect(await metrics()).toEqual(before);
  });
});
