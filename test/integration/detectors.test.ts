import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 12);

const sweep = async (a: TestAgent) => {
  const d = a.agent.detectors;
  if (!d) throw new Error('detectors disabled');
  return d.sweep();
};
const events = async (a: TestAgent, runId: string) =>
  ((await a.get(`/api/v1/runs/${encodeURIComponent(runId)}`)).body.events as { event: string; source: string; applied: boolean; timestamp: string; error_message?: string; reason?: string }[]);

describe('detectors over HTTP with a real agent and store', () => {
  let a: TestAgent | undefined;
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });

  it('commits the verdicts of a mass sweep in slices, not as one batch that holds every push up', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '10m' } } } });
    for (let i = 0; i < 1200; i += 400) await a.push(Array.from({ length: 400 }, (_, j) => ({ job_name: `mass-${(i + j) % 300}`, run_id: `m${i + j}`, event: 'started' })));
    clock.advance(11 * MIN);
    expect(await sweep(a)).toMatchObject({ events: 1200, applied: 1200 });
    const m = (await a.get('/metrics')).text;
    const count = Number(/^jobpulse_store_commit_events_count (\d+)$/m.exec(m)?.[1]);
    // Every commit, the seeding pushes' and the sweep's, held at most 512 events.
    expect(m).toContain(`jobpulse_store_commit_events_bucket{le="512"} ${count}`);
    expect(m).toMatch(/job_stuck\{job_name="mass-299"\} 1/);
  });

  it('stuck: flagged at stuck_after, shown on /metrics and in the run log, cleared by a heartbeat', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '10m' } } } });
    await a.push({ job_name: 'etl', run_id: 'r1', event: 'started' });
    clock.advance(10 * MIN);
    expect((await sweep(a)).events).toBe(0); // exactly at the deadline: not yet
    clock.advance(1);
    expect((await sweep(a)).applied).toBe(1);
    expect((await sweep(a)).events).toBe(0); // already flagged
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_stuck{job_name="etl"} 1');
    expect(m).toContain('jobpulse_detector_verdicts_total{result="applied"} 1');
    expect(m).toContain('jobpulse_detector_sweep_duration_seconds_count 3');
    const log = await events(a, 'r1');
    const stuck = log.find((e) => e.event === 'stuck');
    expect(stuck).toMatchObject({ source: 'clock', applied: true, timestamp: new Date(T0 + 10 * MIN).toISOString() });
    expect((await a.get('/api/v1/runs/r1')).body).toMatchObject({ state: 'running', stuck: true });
    await a.push({ job_name: 'etl', run_id: 'r1', event: 'heartbeat' });
    expect((await a.get('/metrics')).text).toContain('job_stuck{job_name="etl"} 0');
  });

  it('overlapping runs: an older run stuck or overdue behind a live newer one sets job_stuck / job_overdue', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '10m' }, overrides: { long: { max_duration: '30m', max_duration_action: 'flag', stuck_after: '1d' } } } } });
    await a.push({ job_name: 'overlap', run_id: 'ov-A', event: 'started' });
    await a.push({ job_name: 'long', run_id: 'lg-A', event: 'started' });
    clock.advance(MIN);
    await a.push({ job_name: 'overlap', run_id: 'ov-B', event: 'started' });
    for (let i = 0; i < 35; i++) {
      clock.advance(MIN);
      await a.push({ job_name: 'overlap', run_id: 'ov-B', event: 'heartbeat' });
      if (i === 10) await a.push({ job_name: 'long', run_id: 'lg-B', event: 'started' });
      await sweep(a);
    }
    expect((await a.get('/api/v1/runs/ov-A')).body).toMatchObject({ state: 'running', stuck: true });
    expect((await a.get('/api/v1/runs/lg-A')).body).toMatchObject({ state: 'running', overdue: true });
    let m = (await a.get('/metrics')).text;
    expect(m).toContain('job_stuck{job_name="overlap"} 1');
    expect(m).toContain('job_overdue{job_name="long"} 1');
    await a.push([
      { job_name: 'overlap', run_id: 'ov-A', event: 'succeeded' },
      { job_name: 'long', run_id: 'lg-A', event: 'succeeded' },
    ]);
    m = (await a.get('/metrics')).text;
    expect(m).toContain('job_stuck{job_name="overlap"} 0');
    expect(m).toContain('job_overdue{job_name="long"} 0');
  });

  it('submitting timeout: timed_out with an explanation', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock });
    await a.push({ job_name: 'spark-job', run_id: 's1', event: 'submitted' });
    clock.advance(6 * MIN);
    await sweep(a);
    const run = (await a.get('/api/v1/runs/s1')).body;
    expect(run.state).toBe('timed_out');
    expect(run.error_message).toContain('did not start running within 5m (submitting_timeout)');
    expect(run.ended_at).toBe(new Date(T0 + 5 * MIN).toISOString());
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_status{job_name="spark-job",state="timed_out"} 1');
    expect(m).toContain('job_runs_total{job_name="spark-job",outcome="timed_out"} 1');
  });

  it('max duration: overdue flag (flag) or timed_out (timeout)', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({
      clock,
      config: {
        jobs: {
          defaults: { stuck_after: '1d' },
          overrides: { flagged: { max_duration: '30m', max_duration_action: 'flag' }, strict: { max_duration: '30m' } },
        },
      },
    });
    await a.push([
      { job_name: 'flagged', run_id: 'f1', event: 'started' },
      { job_name: 'strict', run_id: 's1', event: 'started' },
    ]);
    clock.advance(31 * MIN);
    await sweep(a);
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_overdue{job_name="flagged"} 1');
    expect(m).toContain('job_status{job_name="flagged",state="running"} 1');
    expect(m).toContain('job_status{job_name="strict",state="timed_out"} 1');
    expect(m).toContain('job_expected_duration_seconds{job_name="strict"} 1800');
    expect((await events(a, 'f1')).map((e) => e.event)).toEqual(['started', 'overdue']);
    expect((await a.get('/api/v1/runs/s1')).body.error_message).toContain('max_duration');
  });

  it("child batches under the parent's own job name: the parent stays the job's run (status, alerts, job_batches)", async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '1d', crash_after: '10m' } } } });
    await a.push({ job_name: 'parent2', run_id: 'p2', event: 'started' });
    clock.advance(1000);
    await a.push(['p2-a', 'p2-b'].map((id) => ({ job_name: 'parent2', run_id: id, parent_run_id: 'p2', event: 'started', records_processed: 0 })));
    clock.advance(1000);
    await a.push({ job_name: 'parent2', run_id: 'p2-a', event: 'failed', records_processed: 10 });
    await sweep(a);
    let m = (await a.get('/metrics')).text;
    // One failed batch is the parent's business while it runs: no failed job status yet.
    expect(m).toContain('job_status{job_name="parent2",state="running"} 1');
    expect(m).toContain('job_batches{job_name="parent2",state="failed"} 1');
    expect(m).toContain('job_batches{job_name="parent2",state="running"} 1');
    clock.advance(1000);
    await a.push({ job_name: 'parent2', run_id: 'p2-b', event: 'succeeded', records_processed: 5 });
    await sweep(a);
    const job = (await a.get('/api/v1/jobs/parent2')).body;
    expect(job.latest_run.run_id).toBe('p2');
    m = (await a.get('/metrics')).text;
    // The parent failed (one of its batches did): that is the job's status, and JobRunFailed's.
    expect(m).toContain('job_status{job_name="parent2",state="failed"} 1');
    expect(m).toContain('job_runs_total{job_name="parent2",outcome="failed"} 1');
    expect(m).toContain('job_runs_total{job_name="parent2",outcome="succeeded"} 0');
    expect(m).toContain('job_records_processed_total{job_name="parent2"} 15');
    // Events without a run id go to the parent, not to a batch.
    expect((await a.push({ job_name: 'parent2', event: 'heartbeat' })).body.results[0].run_id).toBe('p2');
  });

  it('crashed child batches: crash, late report recorded, parent progress, job_batches, children API, parent fails', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '1d', crash_after: '10m' } } } });
    await a.push({ job_name: 'index', run_id: 'p', event: 'started' });
    await a.push(
      ['b1', 'b2', 'b3', 'b4'].map((id, i) => ({ job_name: 'index-batch', run_id: id, parent_run_id: 'p', event: 'started', metadata: { documents: [`doc-${i}`] } })),
    );
    clock.advance(2 * MIN);
    await a.push([
      { job_name: 'index-batch', run_id: 'b1', event: 'succeeded' },
      { job_name: 'index-batch', run_id: 'b2', event: 'heartbeat' },
      { job_name: 'index-batch', run_id: 'b3', event: 'heartbeat' },
    ]);
    await sweep(a);
    let m = (await a.get('/metrics')).text;
    expect(m).toContain('job_progress_percent{job_name="index"} 25');
    expect(m).toContain('job_batches{job_name="index",state="running"} 3');
    expect(m).toContain('job_batches{job_name="index",state="succeeded"} 1');

    clock.advance(9 * MIN); // b4 silent 11 min, b2/b3 9 min
    await sweep(a);
    const b4 = (await a.get('/api/v1/runs/b4')).body;
    expect(b4.state).toBe('crashed');
    expect(b4.error_message).toContain('did not report within the expected time');
    const crashed = (await a.get('/api/v1/runs/p/children?state=crashed')).body.children;
    expect(crashed).toHaveLength(1);
    expect(crashed[0]).toMatchObject({ run_id: 'b4', state: 'crashed', metadata: { documents: ['doc-3'] } });
    expect((await a.get('/api/v1/runs/p/children')).body.children).toHaveLength(4);
    expect((await a.get('/api/v1/runs/p/children?state=nope')).status).toBe(400);

    // The late report of the crashed batch is recorded; the crash stands.
    const late = await a.push({ job_name: 'index-batch', run_id: 'b4', event: 'succeeded' });
    expect(late.body.results[0].result).toBe('recorded');
    expect((await a.get('/api/v1/runs/b4')).body.state).toBe('crashed');

    await a.push([
      { job_name: 'index-batch', run_id: 'b2', event: 'succeeded' },
      { job_name: 'index-batch', run_id: 'b3', event: 'succeeded' },
    ]);
    await sweep(a);
    const parent = (await a.get('/api/v1/runs/p')).body;
    expect(parent.state).toBe('failed');
    expect(parent.error_message).toContain('1 of 4 child batches');
    m = (await a.get('/metrics')).text;
    expect(m).toContain('job_status{job_name="index",state="failed"} 1');
    expect(m).toContain('job_runs_total{job_name="index-batch",outcome="crashed"} 1');
  });

  it('a parent is not stuck while its children report; stuck once every child went silent', async () => {
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, config: { jobs: { defaults: { stuck_after: '8s' } } } });
    await a.push({ job_name: 'idx', event: 'started', run_id: 'ip' });
    const kids = ['ib1', 'ib2', 'ib3'];
    await a.push(kids.map((id) => ({ job_name: 'idx-batch', run_id: id, parent_run_id: 'ip', event: 'started' })));
    for (let t = 2; t <= 30; t += 2) {
      clock.advance(2000);
      await a.push(kids.map((id, i) => ({ job_name: 'idx-batch', run_id: id, event: 'progress', progress: t + i })));
      await sweep(a);
      expect((await a.get('/metrics')).text).toContain('job_stuck{job_name="idx"} 0');
    }
    // The children stop reporting (still running, not yet crash_after): the parent goes stuck 8 s after their last sign of life.
    clock.advance(8000);
    await sweep(a);
    expect((await a.get('/metrics')).text).toContain('job_stuck{job_name="idx"} 0');
    clock.advance(1);
    await sweep(a);
    expect((await a.get('/metrics')).text).toContain('job_stuck{job_name="idx"} 1');
    const stuck = (await events(a, 'ip')).find((e) => e.event === 'stuck');
    expect(stuck).toMatchObject({ applied: true, timestamp: new Date(T0 + 38_000).toISOString() });
    expect(stuck?.error_message).toContain('child batches');
    // One batch reports again: the next sweep clears the parent's flag (JobStuck resolves),
    // without the parent reporting anything itself.
    clock.advance(5000);
    await a.push({ job_name: 'idx-batch', run_id: 'ib2', event: 'progress', progress: 90 });
    await sweep(a);
    expect((await a.get('/metrics')).text).toContain('job_stuck{job_name="idx"} 0');
    expect((await a.get('/api/v1/runs/ip')).body.stuck).toBe(false);
  });

  it('child batches finished before a restart still count for their parent after it', async () => {
    const dir = tempDir();
    const clock = new ManualClock(T0);
    const config = { jobs: { defaults: { stuck_after: '1d', crash_after: '1d' } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await a.push([
      { job_name: 'load', run_id: 'lp', event: 'started' },
      { job_name: 'load', run_id: 'other-parent', event: 'started' },
    ]);
    await a.push(['c1', 'c2', 'c3'].map((id) => ({ job_name: 'load-batch', run_id: id, parent_run_id: 'lp', event: 'started' })));
    await a.push([
      { job_name: 'load-batch', run_id: 'c1', event: 'failed' },
      { job_name: 'load-batch', run_id: 'c2', event: 'failed' },
    ]);
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    await a.push({ job_name: 'load-batch', run_id: 'c3', event: 'succeeded' });
    await sweep(a);
    // 2 of 3 failed, as the index loaded at start says; not 1 of 1 succeeded.
    expect((await a.get('/api/v1/runs/lp')).body).toMatchObject({ state: 'failed', error_message: expect.stringContaining('2 of 3 child batches') });
    expect((await a.get('/api/v1/runs/other-parent')).body.state).toBe('running');
    dir.cleanup();
  });

  it('a child reporting after its parent finished brings no job_batches back, before or after a restart', async () => {
    const dir = tempDir();
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, dir: dir.path });
    await a.push({ job_name: 'late', run_id: 'lp', event: 'started' });
    await a.push({ job_name: 'late-batch', run_id: 'early', parent_run_id: 'lp', event: 'started' });
    await a.push({ job_name: 'late', run_id: 'lp', event: 'succeeded' });
    await a.push({ job_name: 'late-batch', run_id: 'straggler', parent_run_id: 'lp', event: 'failed' });
    const batches = async (): Promise<string[]> => (await a!.get('/metrics')).text.split('\n').filter((l) => l.startsWith('job_batches{job_name="late"'));
    // The parent's batches left with its finish; a straggler alone (1 failed of 2) is no count of them.
    expect(await batches()).toEqual([]);
    await a.agent.stop();
    a = await startAgent({ clock, dir: dir.path });
    expect(await batches()).toEqual([]);
    dir.cleanup();
  });

  it("a child of a finished parent that is no longer its job's latest run leaves no batch entry, before or after a restart", async () => {
    const dir = tempDir();
    const clock = new ManualClock(T0);
    a = await startAgent({ clock, dir: dir.path });
    await a.push({ job_name: 'late', run_id: 'lp', event: 'started' });
    await a.push({ job_name: 'late', run_id: 'lp', event: 'succeeded' });
    await a.push({ job_name: 'late', run_id: 'lp2', event: 'started' }); // lp leaves memory
    await a.push({ job_name: 'late-batch', run_id: 'straggler', parent_run_id: 'lp', event: 'started' });
    await vi.waitFor(() => expect(a!.agent.batches.counts('lp')).toBeUndefined());
    // The parent still to come (its child reported first) keeps its entry.
    await a.push({ job_name: 'late-batch', run_id: 'early', parent_run_id: 'np', event: 'started' });
    await a.get('/api/v1/runs/early');
    expect(a.agent.batches.counts('np')).toMatchObject({ total: 1 });
    await a.agent.stop();
    a = await startAgent({ clock, dir: dir.path });
    expect(a.agent.batches.counts('lp')).toBeUndefined();
    expect(a.agent.batches.counts('np')).toMatchObject({ total: 1 });
    dir.cleanup();
  });

  it('missed schedule: counted once, in the job history, survives a restart in the middle of a grace window', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-11-23T01:00:00Z'));
    const config = { jobs: { overrides: { nightly: { schedule: '0 2 * * *', timezone: 'Europe/Berlin', grace: '10m' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    const slot = Date.parse('2026-11-23T01:00:00Z'); // 02:00 Berlin (CET)
    const next = (await a.get('/metrics')).text;
    expect(next).not.toContain('job_next_expected_run_time_seconds{'); // the job has never reported: no series yet
    await a.push({ job_name: 'nightly', run_id: 'yesterday', event: 'succeeded' });
    await sweep(a);
    expect((await a.get('/metrics')).text).toContain(`job_next_expected_run_time_seconds{job_name="nightly"} ${(slot + 86_400_000) / 1000}`);

    // Restart in the middle of the next grace window: no run started, the agent comes back after grace ends.
    clock.set(slot + 86_400_000 + 5 * MIN);
    await a.agent.stop();
    clock.set(slot + 86_400_000 + 11 * MIN);
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    await sweep(a);
    let m = (await a.get('/metrics')).text;
    expect(m).toContain('job_missed_runs_total{job_name="nightly"} 1');
    const id = `missed:nightly:${slot + 86_400_000}`;
    const run = (await a.get(`/api/v1/runs/${encodeURIComponent(id)}`)).body;
    expect(run.state).toBe('missed');
    expect(run.error_message).toContain('expected at 2026-11-24T01:00:00.000Z');
    const history = (await a.get('/api/v1/jobs/nightly/runs')).body.runs.map((r: { state: string }) => r.state);
    expect(history).toEqual(['missed', 'succeeded']);
    expect(m).toContain('job_status{job_name="nightly",state="succeeded"} 1'); // a miss is never the latest run

    // A second restart re-checks the same slot: deduplicated, not a second miss.
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    m = (await a.get('/metrics')).text;
    expect(m).toContain('job_missed_runs_total{job_name="nightly"} 1');
    dir.cleanup();
  });

  it('a restart does not judge slots whose runs or recorded misses retention pruned (no false misses, no miss counted twice)', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-11-23T05:00:30Z'));
    // Retention well under the 24 h lookback: the restart must not re-check what it pruned.
    const config = { retention: { events: '5m', runs: '5m' }, jobs: { overrides: { every2: { schedule: '*/2 * * * *', grace: '30s' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await a.push({ job_name: 'every2', run_id: 'r0', event: 'succeeded' });
    await sweep(a);
    for (let i = 1; i <= 10; i++) {
      clock.set(Date.parse('2026-11-23T05:00:05Z') + i * 2 * MIN);
      // Slot 05:08 has no run: one real miss, recorded then pruned with its event id.
      if (i !== 4) await a.push({ job_name: 'every2', run_id: `r${i}`, event: 'succeeded' });
      clock.advance(MIN);
      await sweep(a);
    }
    const missed = async () => (await a!.get('/metrics')).text.split('\n').filter((l) => l.startsWith('job_missed_runs_total'));
    const history = async () => (await a!.get('/api/v1/jobs/every2/runs')).body.runs.map((r: { run_id: string }) => r.run_id);
    expect(await missed()).toEqual(['job_missed_runs_total{job_name="every2"} 1']);
    expect((await a.agent.retention.runOnce()).runs).toBeGreaterThan(0);
    const kept = await history();
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    expect(await missed()).toEqual(['job_missed_runs_total{job_name="every2"} 1']);
    expect(await history()).toEqual(kept);
    dir.cleanup();
  });

  it('job_next_expected_run_time_seconds is on /metrics right after a restart, before any sweep', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-11-23T05:00:30Z'));
    const config = { jobs: { overrides: { hourly: { schedule: '0 * * * *' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await a.push({ job_name: 'hourly', run_id: 'h1', event: 'succeeded' });
    await sweep(a);
    const next = async () => (await a!.get('/metrics')).text.split('\n').filter((l) => l.startsWith('job_next_expected_run_time_seconds'));
    const before = await next();
    expect(before).toEqual([`job_next_expected_run_time_seconds{job_name="hourly"} ${Date.parse('2026-11-23T06:00:00Z') / 1000}`]);
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    expect(await next()).toEqual(before);
    dir.cleanup();
  });

  it('a fresh agent does not judge a slot from before it started for a job it has never seen', async () => {
    const start = Date.parse('2026-11-23T05:00:15.400Z');
    const clock = new ManualClock(start);
    a = await startAgent({ clock, config: { jobs: { overrides: { minutely: { schedule: '* * * * *', grace: '20s' } } } } });
    await sweep(a);
    clock.set(Date.parse('2026-11-23T05:00:21Z'));
    await sweep(a);
    clock.set(Date.parse('2026-11-23T05:01:21Z'));
    await sweep(a);
    // 05:00:00 was before the start: not judged; 05:01:00 is.
    expect((await a.get('/api/v1/jobs/minutely/runs')).body.runs.map((r: { run_id: string }) => r.run_id)).toEqual([`missed:minutely:${Date.parse('2026-11-23T05:01:00Z')}`]);
  });

  it('a job first known by a missed slot has no latest run until its first real run', async () => {
    const dir = tempDir();
    const clock = new ManualClock(Date.parse('2026-11-23T05:00:30Z'));
    const config = { jobs: { overrides: { minutely: { schedule: '* * * * *', grace: '20s' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    clock.set(Date.parse('2026-11-23T05:01:21Z'));
    await sweep(a);
    const check = async () => {
      const job = (await a?.get('/api/v1/jobs/minutely'))?.body;
      expect(job).toMatchObject({ job_name: 'minutely' });
      expect(job.state).toBeUndefined();
      expect(job.latest_run).toBeUndefined();
      const m = (await a?.get('/metrics'))?.text ?? '';
      expect(m).toContain('job_missed_runs_total{job_name="minutely"} 1');
      expect(m).not.toContain('job_end_time_seconds{job_name="minutely"}');
    };
    await check();
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    await check();
    // Its first real run becomes the latest, however its time compares with the miss.
    await a.push({ job_name: 'minutely', run_id: 'm1', event: 'started', timestamp: Date.parse('2026-11-23T05:00:59Z') });
    expect((await a.get('/api/v1/jobs/minutely')).body).toMatchObject({ state: 'running', latest_run: { run_id: 'm1' } });
    dir.cleanup();
  });

  it('a run that starts within grace, seen across a restart, is not a miss', async () => {
    const dir = tempDir();
    const slot = Date.parse('2026-11-24T01:00:00Z');
    const clock = new ManualClock(slot - 86_400_000 + 20 * MIN);
    const config = { jobs: { overrides: { nightly: { schedule: '0 2 * * *', timezone: 'Europe/Berlin', grace: '10m' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    await a.push({ job_name: 'nightly', run_id: 'n0', event: 'started' });
    await a.push({ job_name: 'nightly', run_id: 'n0', event: 'succeeded' });
    clock.set(slot + 3 * MIN);
    await a.push({ job_name: 'nightly', run_id: 'n1', event: 'started' });
    await a.agent.stop();
    clock.set(slot + 30 * MIN);
    a = await startAgent({ clock, config, dir: dir.path });
    await sweep(a);
    expect((await a.get('/metrics')).text).toContain('job_missed_runs_total{job_name="nightly"} 0');
    dir.cleanup();
  });

  it('learned baseline: successes retention pruned leave memory too, so a restart shows the same expected duration', async () => {
    const dir = tempDir();
    const clock = new ManualClock(T0);
    const config = { retention: { runs: '1h', events: '1h' }, detectors: { baseline_runs: 5, baseline_min_samples: 1 } };
    a = await startAgent({ clock, config, dir: dir.path });
    const run = async (id: string, secs: number) => {
      await a!.push({ job_name: 'etl', run_id: id, event: 'started' });
      clock.advance(secs * 1000);
      await a!.push({ job_name: 'etl', run_id: id, event: 'succeeded' });
    };
    for (const [i, secs] of [900, 800, 700].entries()) await run(`old${i}`, secs);
    clock.advance(2 * 60 * MIN);
    for (const [i, secs] of [10, 20].entries()) await run(`new${i}`, secs);
    const expected = async () => (await a!.get('/metrics')).text.split('\n').filter((l) => l.startsWith('job_expected_duration_seconds'));
    expect(await expected()).toEqual(['job_expected_duration_seconds{job_name="etl"} 900']);
    expect((await a.agent.retention.runOnce()).runs).toBe(3);
    // The store holds the two newest successes now: p95 20 s, before and after a restart.
    expect(await expected()).toEqual(['job_expected_duration_seconds{job_name="etl"} 20']);
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    expect(await expected()).toEqual(['job_expected_duration_seconds{job_name="etl"} 20']);
    dir.cleanup();
  });

  it('learned baseline feeds job_expected_duration_seconds, survives a restart; too-short successes are flagged', async () => {
    const dir = tempDir();
    const clock = new ManualClock(T0);
    const config = { detectors: { baseline_runs: 3, baseline_min_samples: 3, too_short_factor: 0.1 }, jobs: { overrides: { guarded: { min_duration: '30s' } } } };
    a = await startAgent({ clock, config, dir: dir.path });
    for (const [i, secs] of [500, 100, 200, 400].entries()) {
      await a.push({ job_name: 'etl', run_id: `r${i}`, event: 'started' });
      clock.advance(secs * 1000);
      await a.push({ job_name: 'etl', run_id: `r${i}`, event: 'succeeded' });
    }
    // The window holds the newest 3 successes (100, 200, 400 s): the 500 s run has left it.
    let m = (await a.get('/metrics')).text;
    expect(m).toContain('job_expected_duration_seconds{job_name="etl"} 400');
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    await a.agent.baselines.settled();
    m = (await a.get('/metrics')).text;
    expect(m).toContain('job_expected_duration_seconds{job_name="etl"} 400');
    await a.push({ job_name: 'etl', run_id: 'fast', event: 'started' });
    clock.advance(2000);
    await a.push({ job_name: 'etl', run_id: 'fast', event: 'succeeded' });
    await a.push({ job_name: 'guarded', run_id: 'g', event: 'started' });
    clock.advance(2000);
    await a.push({ job_name: 'guarded', run_id: 'g', event: 'succeeded' });
    await sweep(a);
    m = (await a.get('/metrics')).text;
    expect(m).toContain('job_too_short{job_name="etl"} 1');
    expect(m).toContain('job_too_short{job_name="guarded"} 1');
    expect(m).toContain('job_min_duration_seconds{job_name="guarded"} 30');
    expect((await events(a, 'fast')).find((e) => e.event === 'too_short')?.error_message).toContain('learned p50');
    dir.cleanup();
  });
});
