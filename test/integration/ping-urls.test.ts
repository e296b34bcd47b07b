import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

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

  it('keeps a POST body as the log excerpt, truncated with a marker', async () => {
    await fetch(`${a.url}/ping/logs/start`);
    await fetch(`${a.url}/ping/logs/1`, { method: 'POST', body: 'x'.repeat(100) });
    const r = (await runsOf('logs'))[0];
    expect(r?.metadata?.log_excerpt).toBe(`${'x'.repeat(64)}\n[jobpulse: log truncated, 36 more bytes dropped]`);
  });

  it.each(['/ping/j/256', '/ping/j/nope', '/ping/j/start?rid=bad%20id'])('refuses %s with 400', async (path) => {
    const res = await fetch(`${a.url}${path}`);
    expect(res.status).toBe(400);
  });
});
