import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import type { CycleReport, SparkSource } from '../../src/sources/spark/spark-source.js';
import {
  fixture,
  livyBatchList,
  livySequence,
  monitoringSequence,
  standaloneSequence,
  startFakeSpark,
  variant,
  yarnSequence,
  type FakeSpark,
  type Fault,
} from '../support/fake-spark.js';
import { freePort } from '../support/free-port.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { metricValue } from '../support/wait-for.js';
import { promtoolCheckMetrics } from '../support/promtool.js';

const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));

async function setup(clusters: Record<string, unknown>[]): Promise<{ a: TestAgent; spark: SparkSource }> {
  // interval 1h: the timer never fires during a test; tests drive cycle() themselves.
  const a = await startAgent({ clock, config: { spark: { clusters: clusters.map((c) => ({ interval: '1h', request_timeout: '2s', ...c })) } } });
  return { a, spark: a.agent.spark as SparkSource };
}

const run = async (a: TestAgent, id: string) => (await a.get(`/api/v1/runs/${id}`)).body;

describe('Spark poller against the fake Spark server (real fixtures), in a real agent', () => {
  let fake: FakeSpark;
  let a: TestAgent;
  let spark: SparkSource;
  beforeEach(async () => {
    fake = await startFakeSpark();
  });
  afterEach(async () => {
    await a?.stop();
    await fake.close();
  });

  it('standalone REST: a pushed run follows SUBMITTED → RUNNING → FINISHED, once, then is no longer polled', async () => {
    ({ a, spark } = await setup([{ name: 'sa', kind: 'standalone-rest', base_url: fake.url }]));
    const path = '/v1/submissions/status/driver-20231124153531-0007';
    fake.route(path, standaloneSequence('driver-20231124153531-0007', 'finished'));
    await a.push({ job_name: 'nightly-etl', run_id: 'r1', event: 'queued', labels: { spark_submission_id: 'driver-20231124153531-0007' } });

    await spark.cycle();
    expect((await run(a, 'r1')).state).toBe('submitting');
    clock.advance(15_000);
    await spark.cycle();
    expect((await run(a, 'r1')).state).toBe('running');
    await spark.cycle(); // FINISHED
    const done = await run(a, 'r1');
    expect(done.state).toBe('succeeded');
    expect(done.events.map((e: { event: string; source: string }) => `${e.event}:${e.source}`)).toEqual([
      'queued:push',
      'submitted:spark:sa',
      'started:spark:sa',
      'succeeded:spark:sa',
    ]);
    const hits = fake.hits(path);
    const [report] = await spark.cycle();
    expect(report?.polled).toBe(0);
    expect(fake.hits(path)).toBe(hits);

    const metrics = (await a.get('/metrics')).text;
    expect(metrics).toContain('job_status{job_name="nightly-etl",state="succeeded"} 1');
    expect(metrics).toContain('jobpulse_spark_polls_total{cluster="sa",result="ok"} 3');
    expect(metrics).toMatch(/jobpulse_spark_poll_duration_seconds_count\{cluster="sa"\} 3/);
    expect(metrics).toContain('jobpulse_spark_tracked_runs{cluster="sa"} 0');
    expect((await a.get('/readyz')).body.checks.map((c: { name: string }) => c.name)).toContain('spark:sa');
  });

  it('standalone REST: an unchanged answer emits nothing; ERROR and KILLED map to failed and cancelled', async () => {
    ({ a, spark } = await setup([{ name: 'sa', kind: 'standalone-rest', base_url: fake.url }]));
    fake.route('/v1/submissions/status/d-err', standaloneSequence('d-err', 'error').slice(1));
    fake.route('/v1/submissions/status/d-kill', standaloneSequence('d-kill', 'killed').slice(1));
    await a.push([
      { job_name: 'err-job', run_id: 'e1', event: 'submitted', labels: { spark_submission_id: 'd-err' } },
      { job_name: 'kill-job', run_id: 'k1', event: 'submitted', labels: { spark_submission_id: 'd-kill' } },
    ]);
    await spark.cycle();
    fake.route('/v1/submissions/status/d-err', standaloneSequence('d-err', 'error').slice(1));
    fake.route('/v1/submissions/status/d-kill', standaloneSequence('d-kill', 'killed').slice(1));
    const [again] = await spark.cycle(); // RUNNING again: nothing new
    expect(again?.emitted).toBe(0);
    await spark.cycle();
    const e = await run(a, 'e1');
    expect(e.state).toBe('failed');
    expect(e.error_message).toContain('FileNotFoundException: /opt/jobs/etl-missing.jar');
    expect((await run(a, 'k1')).state).toBe('cancelled');
    expect((await run(a, 'e1')).events.filter((x: { event: string }) => x.event === 'started')).toHaveLength(1);
  });

  it('YARN: ACCEPTED stays queued (not submitting), FINISHED + FAILED is a failure with diagnostics and YARN times', async () => {
    ({ a, spark } = await setup([{ name: 'prod', kind: 'yarn', base_url: fake.url }]));
    const id = 'application_1700840000000_0042';
    fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_failed'));
    await a.push({ job_name: 'nightly-etl', run_id: 'y1', event: 'queued', labels: { spark_app_id: id } });
    await spark.cycle();
    expect((await run(a, 'y1')).state).toBe('queued');
    await spark.cycle();
    expect((await run(a, 'y1')).state).toBe('running');
    await spark.cycle();
    const r = await run(a, 'y1');
    expect(r.state).toBe('failed');
    expect(r.error_message).toContain('input partition dt=2024-05-13 is empty');
    expect(r.duration_seconds ?? (Date.parse(r.ended_at) - Date.parse(r.started_at)) / 1000).toBeCloseTo(61.877, 2);
  });

  it('YARN: progress comes from the Spark UI behind the RM proxy, not from YARN\'s constant 10 %', async () => {
    ({ a, spark } = await setup([{ name: 'prod', kind: 'yarn', base_url: fake.url }]));
    const id = 'application_1700840000000_0077';
    fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_succeeded').slice(1));
    const jobs = monitoringSequence(id, [84, 150]).jobs.slice(0, 2);
    fake.route(`/proxy/${id}/api/v1/applications/${id}/jobs`, jobs);
    await a.push({ job_name: 'nightly-etl', run_id: 'p1', event: 'queued', labels: { spark_app_id: id } });
    await spark.cycle();
    expect((await run(a, 'p1')).progress).toBe(47.3);
    fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_succeeded').slice(1));
    await spark.cycle();
    expect((await run(a, 'p1')).progress).toBe(77.3);
    // Spark UI unreachable: the state still moves, no error for the run.
    fake.fault(`/proxy/${id}/api/v1/applications/${id}/jobs`, 'http_500');
    const [r] = await spark.cycle();
    expect(r?.errors).toEqual({});
    expect((await run(a, 'p1')).state).toBe('succeeded');
  });

  it('Livy discovery: active batches become runs named by the rule, then are followed to killed', async () => {
    ({ a, spark } = await setup([{ name: 'livy', kind: 'livy', base_url: fake.url, discovery: { enabled: true } }]));
    fake.route('/batches', [fixture('livy/constructed_batches_list.json')]);
    fake.route('/batches/7', livySequence(7, 'killed').slice(1));
    const [first] = await spark.cycle();
    expect(first?.discovered).toBe(1); // batch 6 is already dead: not discovered
    const jobs = (await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name);
    expect(jobs).toEqual(['nightly-etl']);
    expect((await run(a, 'spark-livy-7')).state).toBe('running');
    await spark.cycle(); // still running
    await spark.cycle(); // killed
    const r = await run(a, 'spark-livy-7');
    expect(r.state).toBe('cancelled');
    expect(r.labels).toMatchObject({ spark_cluster: 'livy', livy_batch_id: '7', spark_app_id: 'application_1700840000000_0043' });
  });

  it('Livy discovery pages through /batches: active batches past the first page of 100 are found', async () => {
    ({ a, spark } = await setup([{ name: 'livy', kind: 'livy', base_url: fake.url, discovery: { enabled: true } }]));
    // Livy lists oldest first: 150 finished batches it still retains, then 260 running ones.
    const batches = Array.from({ length: 410 }, (_, i) => ({ id: i, name: `etl-${i % 7}`, state: i < 150 ? 'dead' : 'running' }));
    fake.routeQuery('/batches', livyBatchList(batches));
    const [r] = await spark.cycle();
    expect(r?.discovered).toBe(260);
    expect((await run(a, 'spark-livy-409')).state).toBe('running');
    expect(fake.hits('/batches')).toBeGreaterThan(1);
    expect(r?.errors).toEqual({});
  });

  it('standalone master discovery: WAITING is queued, the job-name rule strips dates; tracked runs cost one request', async () => {
    ({ a, spark } = await setup([{ name: 'sm', kind: 'standalone-master', base_url: fake.url, discovery: { enabled: true } }]));
    const state = variant('standalone-master/constructed_master_state.json', (b) => {
      b.activeapps[1].name = 'nightly-etl-2024-05-14';
    });
    fake.route('/json/', [state]);
    const [r] = await spark.cycle();
    expect(r?.discovered).toBe(2);
    expect(r?.requests).toBe(1);
    const jobs = (await a.get('/api/v1/jobs')).body.jobs;
    const byName = Object.fromEntries(jobs.map((j: { job_name: string; latest_run: { state: string } | undefined; state?: string }) => [j.job_name, j]));
    expect(Object.keys(byName).sort()).toEqual(['Spark Pi', 'nightly-etl']);
    expect((await run(a, 'spark-sm-app-20231124154045-0002')).state).toBe('queued');
    expect((await run(a, 'spark-sm-app-20231124153540-0001')).state).toBe('running');
    // The app finishes: it moves to completedapps in the next answer.
    fake.route(
      '/json/',
      [variant('standalone-master/constructed_master_state.json', (b) => {
        const app = b.activeapps.shift();
        app.state = 'FINISHED';
        b.completedapps.push(app);
      })],
    );
    const [r2] = await spark.cycle();
    expect(r2?.requests).toBe(1);
    expect((await run(a, 'spark-sm-app-20231124153540-0001')).state).toBe('succeeded');
  });

  it('discovery fits application names to the job-name rule: control characters become spaces, long names are cut', async () => {
    ({ a, spark } = await setup([{ name: 'sm', kind: 'standalone-master', base_url: fake.url, discovery: { enabled: true } }]));
    fake.route('/json/', [
      variant('standalone-master/constructed_master_state.json', (b) => {
        b.activeapps[0].name = 'line\nbreak\tjob';
        b.activeapps[1].name = 'y'.repeat(300);
      }),
    ]);
    const [r] = await spark.cycle();
    expect(r?.discovered).toBe(2);
    const names = (await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name).sort();
    expect(names).toEqual(['line break job', 'y'.repeat(200)]);
  });

  it('monitoring API: progress grows from the jobs list and shows on /metrics; completion from the app', async () => {
    ({ a, spark } = await setup([{ name: 'hs', kind: 'monitoring-api', base_url: fake.url }]));
    const seq = monitoringSequence('app-20240514021500-0001', [40, 84, 150]);
    fake.route('/api/v1/applications/app-20240514021500-0001', seq.app);
    fake.route('/api/v1/applications/app-20240514021500-0001/jobs', seq.jobs);
    await a.push({ job_name: 'nightly-etl', run_id: 'm1', event: 'submitted', labels: { spark_app_id: 'app-20240514021500-0001' } });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      await spark.cycle();
      clock.advance(15_000);
      seen.push((await run(a, 'm1')).progress);
    }
    expect(seen).toEqual([27.3, 47.3, 77.3]);
    expect((await a.get('/metrics')).text).toContain('job_progress_percent{job_name="nightly-etl"} 77.3');
    await spark.cycle();
    expect((await run(a, 'm1')).state).toBe('succeeded');
  });

  it('holds max_concurrent: 40 tracked runs, 3 in flight at most, every run polled', async () => {
    ({ a, spark } = await setup([{ name: 'y', kind: 'yarn', base_url: fake.url, max_concurrent: 3 }]));
    const ids = Array.from({ length: 40 }, (_, i) => `application_1700840000000_${String(1000 + i)}`);
    for (const id of ids) fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_succeeded').slice(1, 2));
    await a.push(ids.map((id, i) => ({ job_name: `job-${i % 4}`, run_id: `c${i}`, event: 'queued', labels: { spark_app_id: id } })));
    fake.setLatency(20);
    fake.resetStats();
    const [r] = await spark.cycle();
    expect(r?.polled).toBe(40);
    // Each running app: its RM state, then its Spark UI jobs through the RM proxy.
    expect(fake.requests).toBe(80);
    expect(fake.maxInFlight).toBe(3);
    expect((await run(a, 'c39')).state).toBe('running');
  });

  it('never overlaps cycles: a second call joins the running one', async () => {
    ({ a, spark } = await setup([{ name: 'y', kind: 'yarn', base_url: fake.url }]));
    const id = 'application_1700840000000_0042';
    fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'killed'));
    await a.push({ job_name: 'j', run_id: 'o1', event: 'queued', labels: { spark_app_id: id } });
    fake.setLatency(50);
    const [one, two] = await Promise.all([spark.cycle(), spark.cycle()]);
    expect(one?.[0]).toBe(two?.[0]);
    expect(fake.hits(`/ws/v1/cluster/apps/${id}`)).toBe(1);
  });

  it('a body over max_response_bytes is a too_large poll, read no further, and leaves the run as it was', async () => {
    ({ a, spark } = await setup([{ name: 'y', kind: 'yarn', base_url: fake.url, max_response_bytes: 2048 }]));
    const id = 'application_1700840000000_0201';
    const running = variant('yarn/constructed_app_running.json', () => undefined);
    const huge = JSON.stringify({ app: { id, state: 'RUNNING', padding: 'x'.repeat(100_000) } });
    fake.route(`/ws/v1/cluster/apps/${id}`, [running, huge]);
    await a.push({ job_name: 'big', run_id: 'b1', event: 'queued', labels: { spark_app_id: id } });
    expect(running.length).toBeLessThan(2048);
    await spark.cycle();
    const r = (await spark.cycle())[0] as CycleReport;
    expect(r.errors).toEqual({ too_large: 1 });
    expect((await run(a, 'b1')).state).toBe('running');
    expect((await a.get('/metrics')).text).toContain('jobpulse_spark_polls_total{cluster="y",result="too_large"} 1');
  });

  it('discovery past limits.max_jobs: runs up to the limit are created, the rest refused and counted, and followed runs keep moving', async () => {
    a = await startAgent({
      clock,
      config: {
        limits: { max_jobs: 2 },
        spark: { clusters: [{ name: 'sm', kind: 'standalone-master', base_url: fake.url, interval: '1h', discovery: { enabled: true } }] },
      },
    });
    spark = a.agent.spark as SparkSource;
    const mine = 'app-20231124153540-0001';
    // Apps the master lists besides the pushed one: three new job names, one fits under the limit.
    const others = ['a-job', 'b-job', 'c-job'].map((name, i) => ({ id: `app-20231124160000-000${i}`, name }));
    const listing = (mineFinished: boolean): string =>
      variant('standalone-master/constructed_master_state.json', (b) => {
        const [pi] = b.activeapps;
        b.activeapps = others.map((o) => ({ ...pi, ...o }));
        if (mineFinished) b.completedapps.push({ ...pi, state: 'FINISHED' });
        else b.activeapps.unshift(pi);
      });
    await a.push({ job_name: 'nightly-etl', run_id: 'mine', event: 'started', labels: { spark_app_id: mine } });

    fake.route('/json/', [listing(false)]);
    const [first] = await spark.cycle();
    expect((await run(a, `spark-sm-${others[0]?.id}`)).state).toBe('running');
    expect((await a.get(`/api/v1/runs/spark-sm-${others[1]?.id}`)).status).toBe(404);
    expect(first).toMatchObject({ discovered: 1, refused: 2 });
    expect(metricValue((await a.get('/metrics')).text, 'jobpulse_events_rejected_total{source="spark:sm",reason="too_many_jobs"}')).toBeGreaterThanOrEqual(2);

    // The pushed run finishes while the refused apps are still listed (and refused again).
    fake.route('/json/', [listing(true)]);
    const [second] = await spark.cycle();
    expect((await run(a, 'mine')).state).toBe('succeeded');
    expect(second).toMatchObject({ refused: 2 });
    expect((await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name).sort()).toEqual(['a-job', 'nightly-etl']);
  });

  describe.each<[Fault, string]>([
    ['slow', 'timeout'],
    ['http_500', 'http_error'],
    ['html', 'invalid_json'],
    ['invalid_json', 'invalid_json'],
    ['truncated', 'connection_error'],
    ['not_found', 'not_found'],
  ])('fault %s', (fault, result) => {
    it(`is counted as ${result}, logged once per cycle, and leaves the runs as they were`, async () => {
      ({ a, spark } = await setup([{ name: 'y', kind: 'yarn', base_url: fake.url }]));
      const ids = ['application_1700840000000_0101', 'application_1700840000000_0102', 'application_1700840000000_0103'];
      for (const id of ids) {
        fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_succeeded').slice(1));
        fake.route(`/proxy/${id}/api/v1/applications/${id}/jobs`, [fixture('monitoring-api/constructed_running_job_list.json')]);
      }
      await a.push(ids.map((id, i) => ({ job_name: 'etl', run_id: `f${i}`, event: 'queued', labels: { spark_app_id: id } })));
      await spark.cycle(); // all running
      fake.fault('*', fault, { delayMs: 4_000 });
      const before = a.logs.length;
      const r = (await spark.cycle())[0] as CycleReport;
      expect(r.errors).toEqual({ [result]: 3 });
      expect(r.failed).toBe(result !== 'not_found');
      const warnings = a.logs.slice(before).filter((l) => l.source === 'spark' && l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ cluster: 'y', errors: { [result]: 3 } });
      expect(warnings[0]?.run_id).toMatch(/^f\d$/);
      for (let i = 0; i < 3; i++) expect((await run(a, `f${i}`)).state).toBe('running');
      expect((await a.get('/metrics')).text).toContain(`jobpulse_spark_polls_total{cluster="y",result="${result}"} 3`);
      // The cluster answers again: the runs finish normally.
      fake.clearFaults();
      await spark.cycle();
      for (let i = 0; i < 3; i++) expect((await run(a, `f${i}`)).state).toBe('succeeded');
    });
  });

  it('Livy numbering its batches from 0 again: a new run on a reused batch id is followed on its own, not taken for the old one', async () => {
    ({ a, spark } = await setup([{ name: 'l', kind: 'livy', base_url: fake.url, interval: '1s' }]));
    const labels = { spark_cluster: 'l', livy_batch_id: '7' };
    fake.route('/batches/7', livySequence(7, 'success').slice(1));
    await a.push({ job_name: 'sl', run_id: 'sl-1', event: 'submitted', labels });
    await spark.cycle();
    await spark.cycle();
    expect((await run(a, 'sl-1')).state).toBe('succeeded');

    // Livy restarted without recovery; its new batch 7 is this run's, already finished.
    await a.push({ job_name: 'sl', run_id: 'sl-2', event: 'submitted', labels });
    const [report] = await spark.cycle();
    expect(report?.emitted).toBe(1);
    const second = await run(a, 'sl-2');
    expect(second.state).toBe('succeeded');
    expect(second.events.map((e: { event: string; source: string }) => `${e.event}:${e.source}`)).toEqual(['submitted:push', 'succeeded:spark:l']);
    expect((await run(a, 'sl-1')).events.map((e: { event: string }) => e.event)).toEqual(['submitted', 'started', 'succeeded']);
    const [after] = await spark.cycle();
    expect(after?.polled).toBe(0);
    expect((await a.get('/metrics')).text).toContain('jobpulse_spark_tracked_runs{cluster="l"} 0');
  });

  it('connection refused: backs off exponentially with jitter and turns the cluster not ready after 3 failed cycles', async () => {
    const dead = await freePort();
    ({ a, spark } = await setup([{ name: 'gone', kind: 'livy', base_url: `http://127.0.0.1:${dead}`, interval: '10s', max_backoff: '1m' }]));
    await a.push({ job_name: 'etl', run_id: 'g1', event: 'submitted', labels: { livy_batch_id: '7' } });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = (await spark.cycle())[0] as CycleReport;
      expect(r.errors).toEqual({ connection_error: 1 });
      expect(r.consecutive_failures).toBe(i + 1);
      delays.push(r.next_delay_ms);
    }
    // interval × 2^n with equal jitter: within [base/2, base], capped at max_backoff.
    [20_000, 40_000, 60_000, 60_000].forEach((base, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(base / 2);
      expect(delays[i]).toBeLessThanOrEqual(base);
    });
    const ready = await a.get('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.stringify(ready.body)).toContain('spark cluster gone: 4 cycles failed in a row');
    expect((await run(a, 'g1')).state).toBe('submitting');
    expect((await a.get('/healthz')).status).toBe(200);
  });
});

describe('Spark poller in the agent lifecycle', () => {
  let fake: FakeSpark;
  beforeEach(async () => {
    fake = await startFakeSpark();
  });
  afterEach(() => fake.close());

  const until = async (cond: () => boolean | Promise<boolean>, what: string): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (await cond()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  it('the agent runs cycles on its own timer (short interval) and stops them on stop()', async () => {
    const id = 'application_1700840000000_0042';
    fake.route(`/ws/v1/cluster/apps/${id}`, yarnSequence(id, 'finished_succeeded'));
    const a = await startAgent({ clock, config: { spark: { clusters: [{ name: 'y', kind: 'yarn', base_url: fake.url, interval: '100ms' }] } } });
    try {
      await a.push({ job_name: 'timer-job', run_id: 't1', event: 'queued', labels: { spark_app_id: id } });
      await until(async () => (await run(a, 't1')).state === 'succeeded', 'the timer to drive the run to succeeded');
      expect(a.logs.some((l) => l.msg === 'spark poller starting')).toBe(true);
    } finally {
      await a.stop();
    }
    const hits = fake.requests;
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.requests).toBe(hits);
  });

  it('after a restart the tracked run is picked up from the store and followed to the end', async () => {
    const { tempDir } = await import('../support/temp-dir.js');
    const dir = tempDir();
    const id = 'driver-20231124153531-0042';
    const cfg = { spark: { clusters: [{ name: 'sa', kind: 'standalone-rest', base_url: fake.url, interval: '1h' }] } };
    fake.route(`/v1/submissions/status/${id}`, standaloneSequence(id, 'failed'));
    let a = await startAgent({ clock, config: cfg, dir: dir.path });
    await a.push({ job_name: 'restart-job', run_id: 's1', event: 'queued', labels: { spark_submission_id: id } });
    await a.agent.spark?.cycle();
    await a.agent.spark?.cycle();
    expect((await run(a, 's1')).state).toBe('running');
    await a.stop();
    a = await startAgent({ clock, config: cfg, dir: dir.path });
    try {
      await a.agent.spark?.cycle();
      const r = await run(a, 's1');
      expect(r.state).toBe('failed');
      expect(r.events.map((e: { event: string }) => e.event)).toEqual(['queued', 'submitted', 'started', 'failed']);
    } finally {
      await a.stop();
      dir.cleanup();
    }
  });

  it.skipIf(!hasBinary('promtool', 'prometheus'))('the Spark health families pass promtool check metrics', async () => {
    const a = await startAgent({ clock, config: { spark: { clusters: [{ name: 'y', kind: 'yarn', base_url: fake.url, interval: '1h' }] } } });
    try {
      await a.push({ job_name: 'x', run_id: 'x1', event: 'queued', labels: { spark_app_id: 'application_1_0001' } });
      await a.agent.spark?.cycle(); // 404: not_found
      const text = (await a.get('/metrics')).text;
      expect(text).toContain('jobpulse_spark_polls_total{cluster="y",result="not_found"} 1');
      expect(text).toContain('jobpulse_spark_tracked_runs{cluster="y"} 1');
      expect(text).toContain('jobpulse_spark_cycle_duration_seconds_count{cluster="y"} 1');
      expect(promtoolCheckMetrics(text)).toEqual({ output: '', status: 0 });
    } finally {
      await a.stop();
    }
  });
});
