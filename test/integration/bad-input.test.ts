import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../support/start-agent.js';

// Deterministic pseudo-random generator so a failure reproduces.
const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

const FIELDS = ['job_name', 'event', 'run_id', 'event_id', 'timestamp', 'progress', 'records_processed', 'errors', 'labels', 'metadata', 'resources', 'exit_code', 'parent_run_id', '__proto__', 'constructor'];
const VALUES: unknown[] = ['', 'x', 'started', 'progress', -1, 0, 1e308, 101, 3.5, null, true, [], {}, { a: 1 }, ['x'], 'a'.repeat(5000), '\u0000', '2026-11-23T12:00:00Z', 1e11, NaN];

describe('no bad input reaches the 500 branch', () => {
  let a: TestAgent;
  beforeAll(async () => {
    a = await startAgent();
  });
  afterAll(() => a.stop());

  it('answers 2xx or a 4xx JSON error for 500 random bodies', async () => {
    const r = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const statuses = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const obj: Record<string, unknown> = {};
      for (let k = 0; k < 1 + Math.floor(r() * 5); k++) obj[pick(FIELDS)] = pick(VALUES);
      if (r() < 0.5) obj.job_name = `fuzz-${i % 7}`;
      if (r() < 0.5) obj.event = pick(['started', 'progress', 'succeeded', 'heartbeat', 'bogus']);
      let body = JSON.stringify(r() < 0.2 ? [obj, obj] : obj);
      if (r() < 0.1) body = body.slice(0, Math.floor(body.length / 2));
      const res = await fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, body).toBeLessThan(500);
      if (res.status >= 400) expect(((await res.json()) as { code: string }).code).toBeTruthy();
      else await res.arrayBuffer();
    }
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect((await a.get('/readyz')).status).toBe(200);
    // Every answer counted once under its code, whatever order the labels come in.
    const lines = (await a.get('/metrics')).text.split('\n').filter((l) => l.startsWith('jobpulse_http_requests_total{') && l.includes('route="/push"'));
    const counted = new Map(lines.map((l) => [Number(/code="(\d+)"/.exec(l)?.[1]), Number(l.split(' ').pop())]));
    expect(counted).toEqual(statuses);
  });

  it('refuses a body that is not UTF-8 instead of storing U+FFFD in its place; ignores a byte order mark', async () => {
    const post = (body: Uint8Array) => fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const bad = await post(Buffer.concat([Buffer.from('{"job_name":"not-utf8-'), Buffer.from([0xff, 0xfe]), Buffer.from('","event":"started"}')]));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'malformed_body', error: 'body is not valid UTF-8: JSON text must be' });
    expect((await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name).filter((n: string) => n.startsWith('not-utf8'))).toEqual([]);
    // Windows tools (PowerShell 5's `Out-File -Encoding utf8`) write one; RFC 8259 lets a parser ignore it.
    const bom = await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"job_name":"with-bom","event":"started"}')]));
    expect(bom.status).toBe(200);
  });

  it('refuses metadata nested 20,000 deep with a 400 naming the limit (JSON.stringify would throw)', async () => {
    const body = `{"job_name":"deep","event":"started","metadata":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const res = await fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const err = (await res.json()) as { code: string; issues: { path: string; message: string }[] };
    expect(err.code).toBe('validation_failed');
    expect(err.issues).toContainEqual({ path: 'metadata', message: 'is nested deeper than limits.max_metadata_depth (32)' });
    expect((await a.get('/readyz')).status).toBe(200);
  });

  it('refuses an impossible ISO date with 400 on the timestamp path instead of rolling it over to the next month', async () => {
    const res = await a.push({ job_name: 'calendar', event: 'started', timestamp: '2026-11-31T10:00:00Z' });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.issues).toEqual([{ path: 'timestamp', message: 'day 31 does not exist in 2026-11 (01 to 30)' }]);
    expect((await a.get('/api/v1/jobs/calendar')).status).toBe(404);
  });

  it('takes a job name of 150 emoji (200 is counted in characters, not UTF-16 units)', async () => {
    const name = '\u{1F600}'.repeat(150);
    const res = await a.push({ job_name: name, event: 'started' });
    expect(res.status).toBe(200);
    expect((await a.get(`/api/v1/jobs/${encodeURIComponent(name)}`)).body.job_name).toBe(name);
    expect((await a.push({ job_name: '\u{1F600}'.repeat(201), event: 'started' })).body.issues).toEqual([{ path: 'job_name', message: 'expected 1 to 200 characters' }]);
  });
});
