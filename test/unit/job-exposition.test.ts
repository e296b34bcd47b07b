/**
 * The paged, change-only renderer of the per-job families must say exactly what a plain
 * full render of the same state says (sample order within a family aside, which the text
 * format leaves free), through every kind of churn: new jobs, changed snapshots, jobs going
 * idle and coming back, pages emptying, multi-byte job names (byte offsets), volatile
 * families, and both formats.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyToJob, type Job } from '../../src/domain/job.js';
import type { EventType, JobEvent } from '../../src/domain/job-event.js';
import { apply } from '../../src/domain/lifecycle.js';
import { isTerminal } from '../../src/domain/run.js';
import { gzipParts, inflated, type BodyPart } from '../../src/metrics/deflate-parts.js';
import { familyHeader, type ExpositionFormat } from '../../src/metrics/exposition-format.js';
import { CORE_JOB_FAMILIES, createJobExposition, PAGE_SIZE, type JobFamily } from '../../src/metrics/job-exposition.js';
import { JOB_METRICS } from '../../src/metrics/names.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { JobState } from '../../src/state/job-state.js';
import { escapeLabelValue } from '../../src/metrics/exposition-format.js';

const TTL = 3600_000;

/** Drives JobState through the real reducer, the way ingest publishes committed snapshots. */
function world() {
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  const state = new JobState();
  let seq = 0;
  const send = (job_name: string, run_id: string, event: EventType, extra: Partial<JobEvent> = {}): void => {
    const now = clock.now();
    const e: JobEvent = { event_id: `e${++seq}`, job_name, run_id, event, source: 'push', timestamp: now, received_at: now, ...extra };
    const prev = state.getRun(run_id);
    const out = apply(prev, e);
    if (!out.applied) return;
    state.publish([applyToJob(state.getJob(job_name), prev, out.run, e)], [out.run]);
  };
  return { clock, state, send };
}

/** A volatile family whose lines change without any snapshot changing. */
function tickFamily(): { family: JobFamily; ticks: Map<string, number> } {
  const ticks = new Map<string, number>();
  return {
    ticks,
    family: {
      metric: JOB_METRICS.nextExpected,
      volatile: true,
      lines: ({ job, label }) => (ticks.has(job.job_name) ? `job_next_expected_run_time_seconds{${label}} ${ticks.get(job.job_name)}\n` : ''),
    },
  };
}

/** What the cache must equal: every family over every exposed job, rendered from scratch. */
function plainRender(state: JobState, now: number, families: JobFamily[], format: ExpositionFormat, expected: (n: string) => number | undefined): string {
  const running = [...state.allRuns()].filter((r) => r.state === 'running');
  const flag = (name: string, f: 'stuck' | 'overdue') => running.some((r) => r.job_name === name && r[f]);
  const views = [...state.allJobs()]
    .map((job) => ({ job, run: state.latestRun(job), stuck: flag(job.job_name, 'stuck'), overdue: flag(job.job_name, 'overdue') }))
    .filter(({ job, run, stuck, overdue }) => job.last_seen_at >= now - TTL || (run !== undefined && !isTerminal(run.state)) || stuck || overdue)
    .map((v) => ({ ...v, expected: expected(v.job.job_name), label: `job_name="${escapeLabelValue(v.job.job_name)}"` }));
  return families.map((f) => familyHeader(f.metric, format) + views.map((v) => f.lines(v)).join('')).join('');
}

/** The text of a body, both ways out: part by part and as one gzip member must agree. */
const textOf = (parts: BodyPart[]): string => {
  const text = Buffer.concat(parts.map(inflated)).toString('utf8');
  expect(gunzipSync(Buffer.concat(gzipParts(parts))).toString('utf8')).toBe(text);
  return text;
};

/** Family by family, the set of sample lines (headers in order, samples sorted). */
const normalise = (text: string): string[] =>
  text
    .split(/(?=# HELP )/)
    .map((block) => {
      const lines = block.split('\n').filter((l) => l !== '');
      const head = lines.filter((l) => l.startsWith('#'));
      const samples = lines.filter((l) => !l.startsWith('#')).sort();
      return [...head, ...samples].join('\n');
    });

describe('job exposition cache', () => {
  it('renders what a full render renders, through churn, in both formats', () => {
    const { clock, state, send } = world();
    const tick = tickFamily();
    const families = [...CORE_JOB_FAMILIES, tick.family];
    const expectedMap = new Map<string, number>();
    const expected = (n: string) => expectedMap.get(n);
    const x = createJobExposition({ state, clock, idleTtlMs: TTL, expectedDuration: expected, families });
    const check = (format: ExpositionFormat = 'text') => {
      const got = textOf(x.render(format));
      expect(normalise(got)).toEqual(normalise(plainRender(state, clock.now(), families, format, expected)));
      return got;
    };

    check(); // no jobs: headers only
    const names = Array.from({ length: PAGE_SIZE * 2 + 17 }, (_, i) => (i % 50 === 7 ? `ジョブ-${i}-"q"\\` : `job-${i}`));
    for (const n of names) send(n, `${n}/r1`, 'started');
    check();
    check('openmetrics');

    // Some finish, some progress, one retries, an expected duration appears.
    names.forEach((n, i) => {
      if (i % 3 === 0) send(n, `${n}/r1`, 'succeeded', { records_processed: i });
      else if (i % 3 === 1) send(n, `${n}/r1`, 'progress', { progress: i % 100 });
    });
    send('job-5', 'job-5/r2', 'started', { retry_attempt: 1 });
    // Overlapping runs: the older one is stuck or overdue behind a newer healthy one.
    send('job-10', 'job-10/r2', 'started');
    send('job-10', 'job-10/r1', 'stuck', { source: 'clock' });
    send('job-11', 'job-11/r2', 'started');
    send('job-11', 'job-11/r1', 'overdue', { source: 'clock' });
    expectedMap.set('job-8', 120);
    tick.ticks.set('job-2', 1_800_000_000);
    check();

    // An hour later the finished jobs are idle; the running ones stay.
    clock.advance(TTL + 1000);
    const text = check();
    expect(text).not.toContain('job_name="job-0"');
    expect(text).toContain('job_name="job-1"');
    expect(text).toContain('job_stuck{job_name="job-10"} 1');
    expect(text).toContain('job_overdue{job_name="job-11"} 1');
    send('job-10', 'job-10/r1', 'heartbeat');
    send('job-11', 'job-11/r1', 'succeeded');
    expect(check()).toContain('job_stuck{job_name="job-10"} 0');
    expect(check()).toContain('job_overdue{job_name="job-11"} 0');

    // Idle jobs come back, new ones arrive, a volatile value changes, a run fails.
    send('job-0', 'job-0/r2', 'started');
    send(names[7] as string, `${names[7]}/r1`, 'failed', { error_message: 'boom' });
    for (let i = 0; i < 40; i++) send(`late-${i}`, `late-${i}/r1`, 'queued');
    tick.ticks.set('job-2', 1_800_000_060);
    expectedMap.set('job-8', 130);
    check();
    check('openmetrics');

    // Everything finishes and goes idle: whole pages empty out, then one job returns.
    for (const n of [...state.allJobs()].map((j) => j.job_name)) {
      const run = state.latestRun(state.getJob(n) as Job);
      if (run && !isTerminal(run.state)) send(n, run.run_id, 'cancelled');
    }
    clock.advance(TTL + 1000);
    expect(check()).not.toContain('job_name=');
    expect(x.counts()).toEqual({ exposed: 0, idle: state.jobCount });
    send('job-300', 'job-300/r9', 'started');
    check();
    expect(x.counts().exposed).toBe(1);
  });

  it('job_stuck and job_overdue say 1 while any running run of the job is flagged, not only the latest', () => {
    const { state, clock, send } = world();
    send('overlap', 'ov-A', 'started');
    send('overlap', 'ov-A', 'stuck', { source: 'clock' });
    // An exposition built after the fact starts from what state already holds.
    const late = createJobExposition({ state, clock, idleTtlMs: TTL, expectedDuration: () => undefined });
    const x = createJobExposition({ state, clock, idleTtlMs: TTL, expectedDuration: () => undefined });
    expect(textOf(x.render('text'))).toContain('job_stuck{job_name="overlap"} 1');
    send('overlap', 'ov-B', 'started');
    send('overlap', 'ov-B', 'heartbeat');
    send('overlap', 'ov-A', 'overdue', { source: 'clock' });
    for (const e of [x, late]) {
      const t = textOf(e.render('text'));
      expect(t).toContain('job_stuck{job_name="overlap"} 1');
      expect(t).toContain('job_overdue{job_name="overlap"} 1');
    }
    send('overlap', 'ov-A', 'failed');
    const t = textOf(x.render('text'));
    expect(t).toContain('job_stuck{job_name="overlap"} 0');
    expect(t).toContain('job_overdue{job_name="overlap"} 0');
    // A deleted job takes its flags along: back with a fresh run, nothing is stuck.
    send('gone', 'g-A', 'started');
    send('gone', 'g-A', 'stuck', { source: 'clock' });
    expect(textOf(x.render('text'))).toContain('job_stuck{job_name="gone"} 1');
    state.remove('gone');
    send('gone', 'g-B', 'started');
    expect(textOf(x.render('text'))).toContain('job_stuck{job_name="gone"} 0');
  });

  it('hands out parts that later scrapes never modify', () => {
    const { clock, state, send } = world();
    const x = createJobExposition({ state, clock, idleTtlMs: TTL, expectedDuration: () => undefined });
    for (let i = 0; i < 10; i++) send(`j${i}`, `j${i}/r`, 'started');
    const first = x.render('text');
    const before = textOf(first);
    send('j3', 'j3/r', 'succeeded');
    const after = textOf(x.render('text'));
    expect(after).not.toBe(before);
    expect(textOf(first)).toBe(before);
  });
});
