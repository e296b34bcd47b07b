import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { HOSTILE, seedEveryState } from '../support/seed-jobs.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

/** The status page as plain HTML, no browser and no JavaScript: what curl or a text browser sees. */
describe('status page HTML', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    a = await startAgent({
      clock,
      // The seed sets detector states by hand; a timer sweep must not move them.
      config: { detectors: { enabled: false }, jobs: { overrides: { 'nightly-etl': { max_duration: '2m', schedule: '0 2 * * *', timezone: 'Europe/Berlin' } } } },
    });
    await seedEveryState(a, clock);
    clock.advance(5 * 60_000);
  });
  afterAll(() => a.stop());

  const page = async (path: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${a.url}${path}`, { headers });
    return { status: r.status, type: r.headers.get('content-type') ?? '', html: await r.text(), headers: r.headers };
  };
  /** The state badge of a row: colour class and word together. */
  const rowOf = (html: string, job: string): string => {
    const start = html.indexOf(`<tr data-job="${job}">`);
    expect(start, `row for ${job}`).toBeGreaterThan(-1);
    return html.slice(start, html.indexOf('</tr>', start));
  };

  it('lists every job with its state as colour and word', async () => {
    const { status, type, html } = await page('/');
    expect(status).toBe(200);
    expect(type).toContain('text/html');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    const expected: [string, string, string][] = [
      ['queue-job', 'queued', 'queued'],
      ['spark-submit', 'submitting', 'submitting'],
      ['nightly-etl', 'running', 'running'],
      ['report', 'succeeded', 'succeeded'],
      ['export', 'failed', 'failed'],
      ['cleanup', 'cancelled', 'cancelled'],
      ['slow', 'timed_out', 'timed out'],
      ['flaky', 'crashed', 'crashed'],
    ];
    for (const [job, state, word] of expected) {
      expect(rowOf(html, job)).toContain(`<span class="badge s-${state}" data-state="${state}">${word}</span>`);
    }
    expect(rowOf(html, 'stalled')).toContain('STUCK');
    // nightly-etl has run 5m20s against a 2m max_duration: flagged before any detector says so.
    const etl = rowOf(html, 'nightly-etl');
    expect(etl).toContain('OVERDUE');
    expect(etl).toContain('aria-valuenow="25"');
    expect(etl).toContain('5m 20s <span class="muted">/ 2m 00s</span>');
    expect(rowOf(html, 'export')).toMatch(/<td class="num">1<\/td>/);
    expect(html).toContain('store: ok');
    expect(html).toContain('<meta http-equiv="refresh" content="10"/>');
  });

  it('renders a hostile job name, labels and metadata as text', async () => {
    const { html } = await page('/');
    expect(html).not.toContain(HOSTILE);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain(`href="/jobs/${encodeURIComponent(HOSTILE)}"`);
    const job = await page(`/jobs/${encodeURIComponent(HOSTILE)}`);
    expect(job.status).toBe(200);
    expect(job.html).not.toContain(HOSTILE);
    expect(job.html).toContain('<span class="muted">Job</span> &lt;script&gt;alert(1)&lt;/script&gt;');
    const runId = /href="\/runs\/([^"]+)"/.exec(job.html.slice(job.html.indexOf('id="runs"')))?.[1] as string;
    const run = await page(`/runs/${runId}`);
    expect(run.status).toBe(200);
    expect(run.html).not.toMatch(/<script>|<svg onload|<\/pre><script/);
    expect(run.html).toContain('&quot;&gt;&lt;svg onload=alert(3)&gt;');
    expect(run.html).toContain('&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;');
  });

  it.each([
    ['state filter', '/?state=failed', ['export'], ['report', 'nightly-etl']],
    ['several states, comma or repeated', '/?state=failed,crashed&state=timed_out', ['export', 'flaky', 'slow'], ['report']],
    ['name filter, case-insensitive', '/?name=ETL', ['nightly-etl', 'nightly-etl-batch'], ['export']],
    ['both', '/?name=etl&state=running', ['nightly-etl'], ['export', 'report', 'stalled']],
  ])('filters by %s', async (_name, path, present, absent) => {
    const { html } = await page(path);
    for (const j of present) expect(html).toContain(`data-job="${j}"`);
    for (const j of absent) expect(html).not.toContain(`data-job="${j}"`);
  });

  it('sorts and paginates through links that keep the filter', async () => {
    const order = (html: string): string[] => [...html.matchAll(/<tr data-job="([^"]+)">/g)].map((m) => m[1] as string);
    const byName = order((await page('/')).html);
    expect(byName).toEqual([...byName].sort());
    const worst = order((await page('/?sort=state')).html);
    expect(worst.slice(0, 3)).toEqual(['flaky', 'slow', 'export']);
    const p1 = await page('/?per_page=3&sort=name&dir=desc');
    expect(order(p1.html)).toEqual([...byName].reverse().slice(0, 3));
    expect(p1.html).toContain(`1–3 of ${byName.length}`);
    const next = /<a href="([^"]+)">next →<\/a>/.exec(p1.html)?.[1]?.replaceAll('&amp;', '&') as string;
    expect(next).toContain('dir=desc');
    expect(order((await page(next)).html)).toEqual([...byName].reverse().slice(3, 6));
  });

  it('shows a job: expectations, learned baseline, chart, success rate and runs', async () => {
    const { status, html } = await page('/jobs/nightly-etl');
    expect(status).toBe(200);
    expect(html).toContain('0 2 * * * (Europe/Berlin, grace 5m)');
    expect(html).toContain('2m (then time out)');
    expect(html).toContain('1m after a run ended still its own');
    expect(html).toMatch(/p95 1m 15s over the last 5 successful runs/);
    expect(html).toContain('<svg class="chart"');
    expect((html.match(/<rect /g) ?? []).length).toBe(7);
    expect(html).toContain('expected 2m 00s');
    expect(html).toMatch(/Last 7 days<\/dt><dd>83\.3%/);
    for (const id of ['etl-0', 'etl-5', 'etl-now']) expect(html).toContain(`data-run="${id}"`);
    // One success is no baseline for the detectors (baseline_min_samples), so none on the page.
    await a.push({ job_name: 'once', run_id: 'once-1', event: 'started' });
    clock.advance(120_000);
    await a.push({ job_name: 'once', run_id: 'once-1', event: 'succeeded' });
    await a.agent.baselines.settled();
    const once = await page('/jobs/once');
    expect(once.html).toContain('not enough successful runs yet');
    expect(once.html).not.toMatch(/p95 2m 00s over the last 1 successful/);
  });

  it('shows a run: timeline with source and time, error, metadata and child batches filtered by state', async () => {
    const run = await page('/runs/etl-now');
    expect(run.html).toContain('<td>started</td><td>push</td>');
    expect(run.html).toContain('<td>progress</td><td>push</td>');
    expect(run.html).toContain('2026-11-23 12:');
    for (const id of ['b-ok-1', 'b-ok-2', 'b-run', 'b-bad']) expect(run.html).toContain(`data-run="${id}"`);
    const failed = await page('/runs/etl-now?state=failed');
    expect(failed.html).toContain('data-run="b-bad"');
    expect(failed.html).not.toContain('data-run="b-ok-1"');
    expect(failed.html).toContain('value="failed" checked=""');
    const bad = await page('/runs/b-bad');
    expect(bad.html).toContain('batch 17: &lt;img src=x onerror=alert(2)&gt; parse error');
    expect(bad.html).toContain('&lt;b&gt;doc-3&lt;/b&gt;');
    expect(bad.html).toContain('href="/runs/etl-now"');
    const crashed = await page('/runs/flaky-1');
    expect(crashed.html).toContain('<td>crashed</td><td>clock</td>');
  });

  it('shows a long log as its first 100 and newest 400 events, and says how many are left out', async () => {
    await a.push({ job_name: 'chatty', run_id: 'chatty-1', event: 'started' });
    await a.push(Array.from({ length: 649 }, (_, i) => ({ job_name: 'chatty', run_id: 'chatty-1', event: 'progress', progress: (i % 99) + 1 })));
    const { html } = await page('/runs/chatty-1');
    const seqs = [...html.matchAll(/<tr data-event="[a-z]+"><td class="num">(\d+)<\/td>/g)].map((m) => Number(m[1]));
    expect(seqs).toHaveLength(500);
    // In order, with the gap after the first 100: 150 events left out.
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(html).toContain('… 150 events not shown');
    expect(html.indexOf('data-testid="timeline-omitted"')).toBeGreaterThan(html.indexOf(`<td class="num">${seqs[99]}</td>`));
    // The API keeps the whole log.
    expect(((await (await fetch(`${a.url}/api/v1/runs/chatty-1`)).json()) as { events: unknown[] }).events).toHaveLength(650);
  });

  it('answers unknown jobs and runs with an HTML 404, and leaves /metrics, /api and JSON 404s alone', async () => {
    expect((await page('/jobs/nope')).status).toBe(404);
    expect((await page('/runs/nope')).html).toContain('No run with id');
    expect((await page('/metrics')).type).toContain('text/plain');
    expect((await page('/api/v1/jobs')).type).toContain('application/json');
    const miss = await page('/nothing-here');
    expect(miss.status).toBe(404);
    expect(miss.type).toContain('application/json');
  });

  it('keeps bad query values from becoming errors', async () => {
    for (const p of ['/?page=-1&per_page=abc&sort=nope&dir=x&state=bogus', '/?page=999999', '/?refresh=abc']) {
      expect((await page(p)).status).toBe(200);
    }
    expect((await page('/?refresh=0')).html).not.toContain('http-equiv="refresh"');
  });
});

describe('status page with read tokens', () => {
  let a: TestAgent;
  beforeAll(async () => {
    a = await startAgent({ config: { auth: { read_tokens: ['r3ad'] } } });
    await a.push({ job_name: 'secret-job', event: 'started' });
  });
  afterAll(() => a.stop());

  it.each([
    ['no token', {}, 401],
    ['wrong bearer', { authorization: 'Bearer nope' }, 401],
    ['bearer', { authorization: 'Bearer r3ad' }, 200],
    ['basic with the token as password', { authorization: `Basic ${Buffer.from('anyone:r3ad').toString('base64')}` }, 200],
    ['basic with a wrong password', { authorization: `Basic ${Buffer.from('anyone:nope').toString('base64')}` }, 401],
  ])('%s → %i', async (_name, headers, status) => {
    for (const path of ['/', '/jobs/secret-job']) {
      const r = await fetch(`${a.url}${path}`, { headers });
      expect(r.status).toBe(status);
      const html = await r.text();
      if (status === 401) {
        expect(r.headers.get('www-authenticate')).toContain('Basic');
        expect(html).not.toContain('secret-job');
      } else expect(html).toContain('secret-job');
    }
  });
});

describe('status page failures in the last day', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    a = await startAgent({ clock });
  });
  afterAll(() => a.stop());

  const failuresOf = async (job: string): Promise<string | undefined> => {
    const html = await (await fetch(`${a.url}/`)).text();
    const row = html.slice(html.indexOf(`<tr data-job="${job}">`));
    return /<td class="num">(\d+)<\/td>/.exec(row.slice(0, row.indexOf('</tr>')))?.[1];
  };

  it('counts failures committed before and after the first render, once each, and lets them age out', async () => {
    await a.push({ job_name: 'j', run_id: 'r1', event: 'failed' });
    await a.push({ job_name: 'j', run_id: 'r2', event: 'succeeded' });
    expect(await failuresOf('j')).toBe('1');
    clock.advance(3_600_000);
    await a.push({ job_name: 'j', run_id: 'r3', event: 'started' });
    await a.push({ job_name: 'j', run_id: 'r3', event: 'failed' });
    // A late duplicate finish is recorded, not applied: it must not count again.
    await a.push({ job_name: 'j', run_id: 'r3', event: 'failed' });
    await a.agent.ingest.ingest([{ job_name: 'j', run_id: 'r4', event: 'crashed', source: 'clock' }]);
    expect(await failuresOf('j')).toBe('3');
    clock.advance(23.5 * 3_600_000);
    expect(await failuresOf('j')).toBe('2');
    clock.advance(3_600_000);
    expect(await failuresOf('j')).toBe('0');
  });
});
