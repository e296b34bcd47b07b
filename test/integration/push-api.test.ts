import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { promtoolCheckMetrics } from '../support/promtool.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';
import { metricValue } from '../support/wait-for.js';

describe('POST /push → state → /metrics and the REST API', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeEach(async () => {
    a = await startAgent({ clock, config: { limits: { max_jobs: 3 } } });
  });
  afterEach(() => a.stop());

  it('assigns a run id on start and follows the run to success', async () => {
    const start = await a.push({ job_name: 'nightly-etl', event: 'started' });
    expect(start.status).toBe(200);
    const runId = start.body.run_id as string;
    expect(runId).toBeTruthy();
    clock.advance(30_000);
    expect((await a.push({ job_name: 'nightly-etl', event: 'progress', progress: 50 })).body.run_id).toBe(runId);
    clock.advance(30_000);
    await a.push({ job_name: 'nightly-etl', event: 'succeeded' });

    const metrics = (await a.get('/metrics')).text;
    expect(metrics).toContain('job_status{job_name="nightly-etl",state="succeeded"} 1');
    expect(metrics).toContain('job_duration_seconds{job_name="nightly-etl"} 60');
    expect(metrics).toContain('job_runs_total{job_name="nightly-etl",outcome="succeeded"} 1');
    expect(metrics).not.toContain(runId);

    const run = (await a.get(`/api/v1/runs/${runId}`)).body;
    expect(run.state).toBe('succeeded');
    expect(run.events.map((e: { event: string }) => e.event)).toEqual(['started', 'progress', 'succeeded']);
    const runs = (await a.get('/api/v1/jobs/nightly-etl/runs')).body;
    expect(runs.runs).toHaveLength(1);
  });

  it('applies an event id once', async () => {
    const e = { job_name: 'j', event: 'started', run_id: 'r1', event_id: 'same', records_processed: 5 };
    await a.push(e);
    const again = await a.push(e);
    expect(again.body.results[0].result).toBe('duplicate');
    await a.push({ job_name: 'j', run_id: 'r1', event: 'succeeded', event_id: 'done' });
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_records_processed_total{job_name="j"} 5');
    expect((await a.get('/api/v1/runs/r1')).body.events).toHaveLength(2);
  });

  it.each([
    ['malformed JSON', '{"job_name":', { 'content-type': 'application/json' }, 400, 'malformed_body'],
    ['wrong content type', 'job_name=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    ['schema errors', JSON.stringify([{ job_name: 'a', event: 'nope', progress: 101 }]), { 'content-type': 'application/json' }, 400, 'validation_failed'],
    ['too large', JSON.stringify({ job_name: 'a', event: 'started', metadata: 'x'.repeat(2 * 1024 * 1024) }), { 'content-type': 'application/json' }, 413, 'payload_too_large'],
  ])('refuses %s with a JSON error', async (_name, body, headers, status, code) => {
    const res = await fetch(`${a.url}/push`, { method: 'POST', headers, body });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { code: string; error: string; request_id: string };
    expect(json.code).toBe(code);
    expect(json.error).toBeTruthy();
  });

  it("does not let one job's event touch another job's run (a reused run id): recorded, not applied, with the reason", async () => {
    expect((await a.push({ job_name: 'build-a', run_id: '42', event: 'started' })).status).toBe(200);
    const other = await a.push({ job_name: 'build-b', run_id: '42', event: 'succeeded' });
    expect(other.status).toBe(200);
    expect(other.body.results[0]).toMatchObject({ result: 'recorded', state: 'running', run_job_name: 'build-a' });
    expect(other.body.results[0].reason).toMatch(/belongs to job "build-a"/);
    expect((await a.get('/api/v1/runs/42')).body).toMatchObject({ job_name: 'build-a', state: 'running' });
    expect((await a.get('/api/v1/jobs/build-b')).status).toBe(404);
    const metrics = (await a.get('/metrics')).text;
    expect(metrics).not.toContain('build-b');
    expect(metrics).toContain('job_status{job_name="build-a",state="running"} 1');
  });

  it('lists every offending field path', async () => {
    const res = await a.push([{ job_name: 'a', event: 'started' }, { job_name: '', event: 'nope', progress: 101, labels: { 'bad-name': 'x' } }]);
    expect(res.status).toBe(400);
    const paths = res.body.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['[1].job_name', '[1].event', '[1].progress', '[1].labels.bad-name']));
    expect((await a.get('/api/v1/jobs')).body.jobs).toHaveLength(0);
  });

  it('refuses a new job beyond max_jobs with 429 and counts it', async () => {
    for (const j of ['a', 'b', 'c']) expect((await a.push({ job_name: j, event: 'started' })).status).toBe(200);
    const res = await a.push({ job_name: 'd', event: 'started' });
    expect(res.status).toBe(429);
    expect((await a.push({ job_name: 'a', event: 'succeeded' })).status).toBe(200);
    expect((await a.get('/metrics')).text).toContain('jobpulse_events_rejected_total{source="push",reason="too_many_jobs"} 1');
  });

  it.each(['GET', 'PUT', 'OPTIONS', 'DELETE', 'PATCH'])('answers %s /push with 405, Allow: POST and a JSON error', async (method) => {
    const res = await fetch(`${a.url}/push?x=1`, { method, headers: { 'x-request-id': 'wrong-method' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ error: `method ${method} not allowed on /push: send events with POST`, code: 'method_not_allowed', request_id: 'wrong-method' });
    const head = await fetch(`${a.url}/push`, { method: 'HEAD' });
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'POST']);
  });

  it('answers 404 with JSON for unknown names', async () => {
    for (const p of ['/api/v1/jobs/nope', '/api/v1/runs/nope', '/api/v1/jobs/nope/runs', '/nothing-here']) {
      const r = await a.get(p);
      expect(r.status).toBe(404);
      expect(r.body.code).toBe('not_found');
    }
  });

  it('takes a gzip body (Content-Encoding: gzip); a bomb is 413, another coding 415, broken gzip 400', async () => {
    const post = (body: Uint8Array | string, encoding: string) =>
      fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body });
    const events = Array.from({ length: 3 }, (_, i) => ({ job_name: 'zipped', run_id: `z${i}`, event: 'started' }));
    const ok = await post(gzipSync(JSON.stringify(events)), 'gzip');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { accepted: number }).accepted).toBe(3);
    // 2 MiB of JSON whitespace in a few KiB of gzip: over limits.max_body_bytes once decompressed.
    const bomb = await post(gzipSync(`${' '.repeat(2 * 1024 * 1024)}{}`), 'gzip');
    expect(bomb.status).toBe(413);
    expect(((await bomb.json()) as { error: string }).error).toContain('once decompressed');
    expect((await post('{}', 'br')).status).toBe(415);
    const broken = await post(Buffer.from('not gzip at all'), 'gzip');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: string }).error).toContain('could not gunzip');
  });
});

describe('a sign of life without run_id after the run ended (late_event_window)', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 3));
  beforeEach(async () => {
    a = await startAgent({ clock, config: { jobs: { overrides: { eager: { late_event_window: '0s' } } } } });
  });
  afterEach(() => a.stop());

  it('goes to the ended run within the window (recorded, the job stays finished), opens a run after it', async () => {
    const runId = (await a.push({ job_name: 'etl', event: 'started' })).body.run_id as string;
    clock.advance(60_000);
    await a.push({ job_name: 'etl', event: 'succeeded' });
    // A heartbeat thread that outlived the run by a moment, and one stamped before the end.
    clock.advance(10_000);
    const late = await a.push({ job_name: 'etl', event: 'heartbeat' });
    expect(late.status).toBe(200);
    expect(late.body.results[0]).toMatchObject({ run_id: runId, result: 'recorded', state: 'succeeded' });
    expect(late.body.results[0].reason).toContain('already succeeded');
    const early = await a.push({ job_name: 'etl', event: 'progress', progress: 90, timestamp: clock.now() - 30_000 });
    expect(early.body.results[0]).toMatchObject({ run_id: runId, result: 'recorded' });
    expect((await a.get('/api/v1/jobs/etl')).body.state).toBe('succeeded');
    expect((await a.get('/metrics')).text).toContain('job_status{job_name="etl",state="succeeded"} 1');
    expect((await a.get('/api/v1/jobs/etl/runs')).body.runs).toHaveLength(1);
    expect((await a.get(`/api/v1/runs/${runId}`)).body.events.map((e: { event: string }) => e.event)).toEqual(['started', 'succeeded', 'heartbeat', 'progress']);

    // Past the window (1m by default) a heartbeat-only job's next run starts with its first beat.
    clock.advance(60_000);
    const next = await a.push({ job_name: 'etl', event: 'heartbeat' });
    expect(next.body.results[0]).toMatchObject({ result: 'applied', state: 'running' });
    expect(next.body.run_id).not.toBe(runId);
  });

  it('a finish or a start still opens a new run, and a job whose window is 0 opens one at once', async () => {
    await a.push({ job_name: 'etl', event: 'succeeded' });
    const again = await a.push({ job_name: 'etl', event: 'succeeded' });
    expect((await a.get('/api/v1/jobs/etl/runs')).body.runs).toHaveLength(2);
    expect(again.body.results[0].result).toBe('applied');

    const first = (await a.push({ job_name: 'eager', event: 'succeeded' })).body.run_id as string;
    const beat = await a.push({ job_name: 'eager', event: 'heartbeat' });
    expect(beat.body.results[0]).toMatchObject({ result: 'applied', state: 'running' });
    expect(beat.body.run_id).not.toBe(first);
  });
});

describe('job aggregates across runs', () => {
  let a: TestAgent;
  let dir: ReturnType<typeof tempDir>;
  const clock = new ManualClock(Date.UTC(2026, 11, 7, 3));
  beforeEach(async () => {
    dir = tempDir();
    a = await startAgent({ clock, dir: dir.path });
  });
  afterEach(async () => {
    await a.stop();
    dir.cleanup();
  });
  const series = async (s: string) => metricValue((await a.get('/metrics')).text, s);

  it('counts a retry once, whichever event of the run first carries retry_attempt > 0', async () => {
    await a.push({ job_name: 'rq', run_id: 'rq-1', event: 'started' });
    await a.push({ job_name: 'rq', run_id: 'rq-1', event: 'failed' });
    // Queued first, the attempt number arrives with the start.
    await a.push({ job_name: 'rq', run_id: 'rq-2', event: 'queued' });
    await a.push({ job_name: 'rq', run_id: 'rq-2', event: 'started', retry_attempt: 1 });
    await a.push({ job_name: 'rq', run_id: 'rq-2', event: 'succeeded' });
    expect(await series('job_retries_total{job_name="rq"}')).toBe(1);
    expect((await a.get('/api/v1/jobs/rq')).body.retries_total).toBe(1);
    expect((await a.get('/api/v1/runs/rq-2')).body.retry_attempt).toBe(1);

    // Repeated, lowered and raised within one run: still one retry.
    await a.push({ job_name: 'rq', run_id: 'rq-3', event: 'started', retry_attempt: 2 });
    await a.push({ job_name: 'rq', run_id: 'rq-3', event: 'heartbeat', retry_attempt: 0 });
    await a.push({ job_name: 'rq', run_id: 'rq-3', event: 'heartbeat', retry_attempt: 2 });
    await a.push({ job_name: 'rq', run_id: 'rq-3', event: 'progress', progress: 5, retry_attempt: 3 });
    expect(await series('job_retries_total{job_name="rq"}')).toBe(2);
    expect((await a.get('/api/v1/runs/rq-3')).body.retry_attempt).toBe(3);
  });

  it("shows the last finished run's duration, none when that run never reported a start, also after a restart", async () => {
    await a.push({ job_name: 'dur', run_id: 'd-1', event: 'started', timestamp: (clock.now() - 3_000_000) / 1000 });
    await a.push({ job_name: 'dur', run_id: 'd-1', event: 'succeeded' });
    expect(await series('job_duration_seconds{job_name="dur"}')).toBe(3000);
    expect((await a.get('/api/v1/jobs/dur')).body.last_duration_seconds).toBe(3000);

    clock.advance(60_000);
    await a.push({ job_name: 'dur', run_id: 'd-2', event: 'failed' });
    const check = async () => {
      const m = (await a.get('/metrics')).text;
      expect(m).toContain('job_status{job_name="dur",state="failed"} 1');
      expect(m).not.toContain('job_start_time_seconds{job_name="dur"}');
      expect(m).not.toContain('job_duration_seconds{job_name="dur"}');
      // The histogram still holds d-1: it counts every run whose duration is known.
      expect(metricValue(m, 'job_run_duration_seconds_count{job_name="dur"}')).toBe(1);
      expect((await a.get('/api/v1/jobs/dur')).body).not.toHaveProperty('last_duration_seconds');
      // The only job without a duration: the family is left with its HELP and TYPE alone.
      if (hasBinary('promtool', 'prometheus')) expect(promtoolCheckMetrics(m)).toEqual({ output: '', status: 0 });
    };
    await check();
    await a.agent.stop();
    a = await startAgent({ clock, dir: dir.path });
    await check();

    await a.push({ job_name: 'dur', run_id: 'd-3', event: 'started' });
    clock.advance(5_000);
    await a.push({ job_name: 'dur', run_id: 'd-3', event: 'succeeded' });
    expect(await series('job_duration_seconds{job_name="dur"}')).toBe(5);
  });
});
