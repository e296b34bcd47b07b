import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { get, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_METRICS } from '../../src/metrics/names.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { promtoolCheckMetrics } from '../support/promtool.js';

const run = promisify(execFile);
const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));

describe('/metrics exposition', () => {
  let a: TestAgent;
  beforeAll(async () => {
    a = await startAgent({ clock, config: { retention: { idle_job_ttl: '1h' }, jobs: { overrides: { 'with "quotes"\\': { max_duration: '2h' } } } } });
    await a.push([
      { job_name: 'ok', event: 'started', run_id: 'ok-1' },
      { job_name: 'ok', event: 'succeeded', run_id: 'ok-1', records_processed: 10 },
      { job_name: 'bad', event: 'started', run_id: 'bad-1', retry_attempt: 1 },
      { job_name: 'bad', event: 'failed', run_id: 'bad-1', error_message: 'boom' },
      { job_name: 'with "quotes"\\', event: 'progress', progress: 12.5 },
    ]);
  });
  afterAll(() => a.stop());

  it('exposes every per-job family of the contract', async () => {
    const text = (await a.get('/metrics')).text;
    for (const m of Object.values(JOB_METRICS)) expect(text, m.name).toContain(`# TYPE ${m.name} ${m.type}`);
    expect(text).toContain('job_name="with \\"quotes\\"\\\\"');
    expect(text).toContain('job_progress_percent{job_name="with \\"quotes\\"\\\\"} 12.5');
    expect(text).toContain('job_expected_duration_seconds{job_name="with \\"quotes\\"\\\\"} 7200');
    expect(text).toContain('job_retries_total{job_name="bad"} 1');
    expect(text).toContain('job_failures_total{job_name="bad"} 1');
  });

  /** The raw bytes as they came off the socket (fetch would undo the gzip). */
  const rawGet = (path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      get(`${a.url}${path}`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      }).on('error', reject);
    });

  it('answers a gzip scraper (Prometheus) with one gzip member, and anyone else with the text', async () => {
    const z = await rawGet('/metrics', { 'accept-encoding': 'gzip', 'x-request-id': 'scrape-1' });
    expect(z.status).toBe(200);
    expect(z.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(z.headers['content-encoding']).toBe('gzip');
    expect(z.headers.vary).toBe('Accept-Encoding');
    expect(Number(z.headers['content-length'])).toBe(z.body.length);
    expect(z.headers['x-request-id']).toBe('scrape-1');
    const unzipped = gunzipSync(z.body).toString();

    const plain = await rawGet('/metrics', { 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    const text = plain.body.toString();
    expect(text).toContain('job_runs_total{job_name="ok",outcome="succeeded"} 1');
    // The same per-job section both ways (the agent's own counters move between scrapes).
    const jobLines = (t: string): string[] => t.split('\n').filter((l) => l.startsWith('job_'));
    expect(jobLines(unzipped)).toEqual(jobLines(text));
    expect(jobLines(text).length).toBeGreaterThan(50);
  });

  it.skipIf(!hasBinary('curl', 'curl'))('works with curl, compressed and not', async () => {
    // Asynchronously: the agent answers from this very process.
    const curl = async (...args: string[]): Promise<string> => (await run('curl', ['-fsS', '-m', '20', ...args, `${a.url}/metrics`])).stdout;
    const plain = await curl();
    const compressed = await curl('--compressed');
    expect(compressed).toContain('job_runs_total{job_name="ok",outcome="succeeded"} 1');
    const jobLines = (t: string): string[] => t.split('\n').filter((l) => l.startsWith('job_'));
    expect(jobLines(compressed)).toEqual(jobLines(plain));
  });

  it.skipIf(!hasBinary('promtool', 'prometheus'))('passes promtool check metrics', async () => {
    const text = (await a.get('/metrics')).text;
    expect(promtoolCheckMetrics(text)).toEqual({ output: '', status: 0 });
  });

  it.skipIf(!hasBinary('promtool', 'prometheus'))('passes promtool check metrics with Node\'s default metrics on, as `jobpulse serve` runs', async () => {
    const served = await startAgent({ defaultMetrics: true });
    try {
      expect((await served.push({ job_name: 'etl', event: 'started' })).status).toBe(200);
      const text = (await served.get('/metrics')).text;
      expect(text).toContain('nodejs_active_handles{');
      expect(text).toContain('process_resident_memory_bytes');
      expect(promtoolCheckMetrics(text)).toEqual({ output: '', status: 0 });
    } finally {
      await served.stop();
    }
  });

  it('speaks OpenMetrics when the scraper asks for it', async () => {
    const res = await fetch(`${a.url}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } });
    expect(res.headers.get('content-type')).toContain('application/openmetrics-text');
    const text = await res.text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(text.match(/# EOF/g)).toHaveLength(1);
    expect(text).toContain('# TYPE job_runs counter');
    expect(text).toContain('job_runs_total{job_name="ok",outcome="succeeded"} 1');
    expect(text).toContain('# TYPE jobpulse_events counter');
    expect(text).toMatch(/^jobpulse_events_total\{/m);
    // The text format afterwards still names every counter with `_total` (an OpenMetrics
    // render once renamed prom-client's counters for good: `jobpulse_store_errors 0`).
    const after = (await a.get('/metrics')).text;
    expect(after).toMatch(/^# TYPE jobpulse_events_total counter$/m);
    expect(after).toMatch(/^jobpulse_store_errors_total 0$/m);
    expect(after).not.toMatch(/^jobpulse_store_errors /m);
    expect(promtoolCheckMetrics(after)).toEqual({ output: '', status: 0 });
  });

  it('drops jobs idle past the TTL from /metrics but keeps their history', async () => {
    clock.advance(2 * 3600_000);
    const text = (await a.get('/metrics')).text;
    expect(text).not.toContain('job_name="ok"');
    expect(text).toContain('jobpulse_jobs{status="idle"} 2');
    // the unfinished run keeps its job exposed
    expect(text).toContain('job_name="with \\"quotes\\"\\\\"');
    expect((await a.get('/api/v1/jobs/ok/runs')).body.runs).toHaveLength(1);
  });
});
