import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const run = promisify(execFile);

describe('ping URLs', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeEach(async () => {
    a = await startAgent({ clock, config: { ping: { max_log_bytes: 64 } } });
  });
  afterEach(() => a.stop());

  const runsOf = async (job: string) => (await a.get(`/api/v1/jobs/${job}/runs`)).body.runs as { run_id: string; state: string; exit_code?: number; metadata?: { log_excerpt?: string }; started_at?: number; ended_at?: number }[];

  it('start then success measures the duration; works with curl -fsS -m 10 --retry 5', async () => {
    await run('curl', ['-fsS', '-m', '10', '--retry', '5', `${a.url}/ping/backup/start`]);
    clock.advance(42_000);
    const { stdout } = await run('curl', ['-fsS', '-m', '10', '--retry', '5', `${a.url}/ping/backup`]);
    expect(stdout).toBe('OK\n');
    const runs = await runsOf('backup');
    expect(runs).toHaveLength(1);
    expect(runs[0]?.state).toBe('succeeded');
    expect((await a.get('/metrics')).text).toContain('job_duration_seconds{job_name="backup"} 42');
  });

  it.each([
    ['/fail', 'failed', undefined],
    ['/0', 'succeeded', 0],
    ['/3', 'failed', 3],
  ])('%s ends the run as %s', async (suffix, state, exit) => {
    await fetch(`${a.url}/ping/j/start`);
    expect((await fetch(`${a.url}/ping/j${suffix}`)).status).toBe(200);
    const r = (await runsOf('j'))[0];
    expect(r?.state).toBe(state);
    expect(r?.exit_code).toBe(exit);
  });

  it('pairs overlapping runs by ?rid=', async () => {
    await fetch(`${a.url}/ping/ov/start?rid=r1`);
    clock.advance(1000);
    await fetch(`${a.url}/ping/ov/start?rid=r2`);
    clock.advance(1000);
    await fetch(`${a.url}/ping/ov/fail?rid=r1`);
    await fetch(`${a.url}/ping/ov?rid=r2`);
    const byId = Object.fromEntries((await runsOf('ov')).map((r) => [r.run_id, r.state]));
    expect(byId).toEqual({ r1: 'failed', r2: 'succeeded' });
  });

  it("refuses a rid that names another job's run with 409, which curl -f reports, and leaves that run alone", async () => {
    await run('curl', ['-fsS', `${a.url}/ping/backup/start?rid=nightly-1`]);
    const res = await fetch(`${a.url}/ping/reindex/fail?rid=nightly-1`);
    expect(res.status).toBe(409);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe('run_of_another_job');
    expect(body.error).toMatch(/belongs to job "backup"/);
    await expect(run('curl', ['-fsS', `${a.url}/ping/reindex/fail?rid=nightly-1`])).rejects.toThrow(/409/);
    expect((await runsOf('backup')).map((r) => [r.run_id, r.state])).toEqual([['nightly-1', 'running']]);
    expect((await a.get('/api/v1/jobs/reindex')).status).toBe(404);
  });

  it('keeps a POST body as the log excerpt, truncated with a marker', async () => {
    await fetch(`${a.url}/ping/logs/start`);
    await fetch(`${a.url}/ping/logs/1`, { method: 'POST', body: 'x'.repeat(100) });
    const r = (await runsOf('logs'))[0];
    expect(r?.metadata?.log_excerpt).toBe(`${'x'.repeat(64)}\n[jobpulse: log truncated, 36 more bytes dropped]`);
  });

  it.each([
    // [what, body, excerpt kept, bytes dropped (undefined: not truncated)]
    ['bytes that are not UTF-8, under the limit', Buffer.alloc(50, 0xff), '\uFFFD'.repeat(50), undefined],
    ['bytes that are not UTF-8, over the limit', Buffer.alloc(5000, 0xff), '\uFFFD'.repeat(64), 5000 - 64],
    ['two-byte characters, cut on one', Buffer.from('é'.repeat(100)), 'é'.repeat(32), 200 - 64],
    ['two-byte characters, cut inside one', Buffer.from(`x${'é'.repeat(100)}`), `x${'é'.repeat(31)}`, 201 - 63],
    ['an invalid byte at the cut', Buffer.concat([Buffer.alloc(63, 0x61), Buffer.from([0xff, 0xff])]), `${'a'.repeat(63)}\uFFFD`, 1],
  ])('log excerpt limits and counts are in bytes of the body as sent: %s', async (_what, body, kept, dropped) => {
    await fetch(`${a.url}/ping/bytes/start`);
    expect((await fetch(`${a.url}/ping/bytes/fail`, { method: 'POST', body })).status).toBe(200);
    const r = (await runsOf('bytes'))[0];
    expect(r?.metadata?.log_excerpt).toBe(dropped === undefined ? kept : `${kept}\n[jobpulse: log truncated, ${dropped} more bytes dropped]`);
  });

  it('a log over the body limit still records the outcome, as the README\'s cron line sends it (curl --data-binary @etl.log)', async () => {
    const dir = tempDir();
    try {
      const size = 3 * 1024 * 1024; // limits.max_body_bytes is 1 MiB
      writeFileSync(`${dir.path}/etl.log`, Buffer.alloc(size, 0x2e));
      await run('curl', ['-fsS', '-m', '10', '--retry', '5', `${a.url}/ping/etl/start`]);
      const { stdout } = await run('curl', ['-fsS', '-m', '10', '--retry', '5', '--data-binary', `@${dir.path}/etl.log`, `${a.url}/ping/etl/2`]);
      expect(stdout).toBe('OK\n');
      const r = (await runsOf('etl'))[0];
      expect(r).toMatchObject({ state: 'failed', exit_code: 2 });
      expect(r?.metadata?.log_excerpt).toBe(`${'.'.repeat(64)}\n[jobpulse: log truncated, ${size - 64} more bytes dropped]`);
    } finally {
      dir.cleanup();
    }
  });

  it.each(['/ping/j/256', '/ping/j/nope', '/ping/j/start?rid=bad%20id'])('refuses %s with 400', async (path) => {
    const res = await fetch(`${a.url}${path}`);
    expect(res.status).toBe(400);
  });

  it.each(['/ping/%ZZ', '/ping/a%FFb/start', '/ping/%E0%A4%A/0'])('refuses a job segment that is not valid percent-encoded UTF-8, as the Pushgateway API does: %s', async (path) => {
    const res = await fetch(`${a.url}${path}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ issues: [{ path: 'url', message: expect.stringContaining('invalid percent-encoding') }] });
    expect((await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name)).not.toContain(path.split('/')[2]);
  });

  it.each(['/ping/a%0Ab', '/ping/a%00b/start', '/ping/a%09b/0'])('refuses a job name with control characters, as /push does: %s', async (path) => {
    const res = await fetch(`${a.url}${path}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ issues: [{ path: 'job_name', message: 'must not contain control characters' }] });
  });
});

describe('ping URLs with a write token', () => {
  const secret = 'cron-secret-7f3a9c';
  const wrong = 'wrong-guess-51b2e8';
  let a: TestAgent;
  beforeEach(async () => {
    a = await startAgent({ config: { auth: { write_tokens: [secret] } } });
  });
  afterEach(() => a.stop());

  it('takes the token as ?token= (or the header), refuses a missing or wrong one, and never logs it', async () => {
    expect((await fetch(`${a.url}/ping/tok/start`)).status).toBe(401);
    expect((await fetch(`${a.url}/ping/tok/start?token=${wrong}`)).status).toBe(401);
    expect((await fetch(`${a.url}/ping/tok/start?token=`)).status).toBe(401);
    expect((await fetch(`${a.url}/ping/tok/start?token=${secret}`)).status).toBe(200);
    expect((await fetch(`${a.url}/ping/tok?rid=x1&token=${encodeURIComponent(secret)}`, { method: 'POST', body: 'log line' })).status).toBe(200);
    expect((await fetch(`${a.url}/ping/tok/0`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    // A wrong header does not hide a right query token, and a right header is not spoiled by a wrong query token.
    expect((await fetch(`${a.url}/ping/tok/start?token=${secret}`, { headers: { authorization: `Bearer ${wrong}` } })).status).toBe(200);
    expect((await fetch(`${a.url}/ping/tok/fail?token=${wrong}`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    // The query token is for ping URLs only.
    expect((await fetch(`${a.url}/push?token=${secret}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"job_name":"x","event":"started"}' })).status).toBe(401);

    const runs = await a.get('/api/v1/jobs/tok/runs');
    expect(runs.body.runs.length).toBeGreaterThanOrEqual(2);
    // Requests were logged (one line each, refused ones too), and no line carries either token.
    expect(a.logs.some((l) => l.msg === 'request' && l.route === '/ping/:job/:action')).toBe(true);
    expect(a.logs.some((l) => l.msg === 'request refused' && l.status === 401)).toBe(true);
    const logText = JSON.stringify(a.logs);
    expect(logText).not.toContain(secret);
    expect(logText).not.toContain(wrong);
    expect(runs.text).not.toContain(secret);
    expect((await a.get('/metrics')).text).not.toContain(secret);
  });
});
