/**
 * Renders the per-job families from state at scrape time.
 *
 * Why not prom-client gauges: with 10k–50k jobs and ~40 series each, building label
 * objects and re-serialising every series on every scrape costs more than the whole
 * budget (measured: a prom-client gauge registry takes ~125–150 ms at 10k jobs). Job
 * and run snapshots are immutable (ingest replaces them on change), so each job's
 * rendered lines are cached against the identity of its snapshots and only jobs that
 * changed since the last scrape are re-rendered. Output is checked by `promtool check
 * metrics` and parsed back in the tests.
 */
import { DURATION_BUCKETS_SECONDS, failuresTotal, OUTCOMES, type Job } from '../domain/job.js';
import { isTerminal, RUN_STATES, type Run } from '../domain/run.js';
import type { Clock } from '../runtime/clock.js';
import type { JobState } from '../state/job-state.js';
import { escapeLabelValue, familyHeader, formatValue, type ExpositionFormat } from './exposition-format.js';
import { JOB_METRICS, type MetricName } from './names.js';

export interface JobView {
  job: Job;
  run: Run | undefined;
  /** `job_name="..."` ready to splice into a label set. */
  label: string;
  expected: number | undefined;
}

/** A per-job family: `lines` returns complete sample lines (or ''), in text format. */
export interface JobFamily {
  metric: MetricName;
  lines(v: JobView): string;
  /** Families whose lines depend on more than the job and run snapshots are rendered on every scrape. */
  volatile?: boolean;
}

const sec = (ms: number): string => formatValue(ms / 1000);
const gaugeIf = (name: string, label: string, v: number | undefined, toSeconds = false): string =>
  v === undefined ? '' : `${name}{${label}} ${toSeconds ? sec(v) : formatValue(v)}\n`;

const J = JOB_METRICS;

export const CORE_JOB_FAMILIES: JobFamily[] = [
  {
    metric: J.status,
    lines: ({ run, label }) => {
      let s = '';
      for (const st of RUN_STATES) s += `job_status{${label},state="${st}"} ${run?.state === st ? 1 : 0}\n`;
      return s;
    },
  },
  { metric: J.startTime, lines: ({ run, label }) => gaugeIf(J.startTime.name, label, run?.started_at, true) },
  { metric: J.endTime, lines: ({ run, label }) => gaugeIf(J.endTime.name, label, run && isTerminal(run.state) ? run.ended_at : undefined, true) },
  { metric: J.lastSuccess, lines: ({ job, label }) => gaugeIf(J.lastSuccess.name, label, job.last_success_at, true) },
  { metric: J.lastFailure, lines: ({ job, label }) => gaugeIf(J.lastFailure.name, label, job.last_failure_at, true) },
  {
    metric: J.lastHeartbeat,
    lines: ({ run, label }) => gaugeIf(J.lastHeartbeat.name, label, run && !isTerminal(run.state) ? (run.last_heartbeat_at ?? run.last_event_at) : undefined, true),
  },
  {
    metric: J.progress,
    lines: ({ run, label }) => gaugeIf(J.progress.name, label, run && run.state === 'running' ? (run.progress ?? 0) : undefined),
  },
  { metric: J.duration, lines: ({ job, label }) => gaugeIf(J.duration.name, label, job.last_duration_seconds) },
  {
    metric: J.runDuration,
    lines: ({ job, label }) => {
      let s = '';
      DURATION_BUCKETS_SECONDS.forEach((le, i) => {
        s += `job_run_duration_seconds_bucket{${label},le="${le}"} ${job.duration_buckets[i] ?? 0}\n`;
      });
      return `${s}job_run_duration_seconds_bucket{${label},le="+Inf"} ${job.duration_count}\njob_run_duration_seconds_sum{${label}} ${formatValue(job.duration_sum_seconds)}\njob_run_duration_seconds_count{${label}} ${job.duration_count}\n`;
    },
  },
  { metric: J.expectedDuration, lines: ({ expected, label }) => gaugeIf(J.expectedDuration.name, label, expected) },
  {
    metric: J.runs,
    lines: ({ job, label }) => {
      let s = '';
      for (const o of OUTCOMES) s += `job_runs_total{${label},outcome="${o}"} ${job.runs_total[o]}\n`;
      return s;
    },
  },
  { metric: J.failures, lines: ({ job, label }) => `job_failures_total{${label}} ${failuresTotal(job)}\n` },
  { metric: J.stuck, lines: ({ run, label }) => `job_stuck{${label}} ${run?.stuck && run.state === 'running' ? 1 : 0}\n` },
  { metric: J.overdue, lines: ({ run, label }) => `job_overdue{${label}} ${run?.overdue && run.state === 'running' ? 1 : 0}\n` },
  { metric: J.recordsProcessed, lines: ({ job, label }) => `job_records_processed_total{${label}} ${job.records_processed_total}\n` },
  { metric: J.errors, lines: ({ job, label }) => `job_errors_total{${label}} ${job.errors_total}\n` },
  { metric: J.retries, lines: ({ job, label }) => `job_retries_total{${label}} ${job.retries_total}\n` },
];

interface CacheEntry {
  job: Job;
  run: Run | undefined;
  expected: number | undefined;
  /** Encoded once: joining cached ropes re-flattens them on every scrape, copying bytes does not. */
  lines: Buffer[];
}

const EMPTY = Buffer.alloc(0);

export interface JobExposition {
  render(format: ExpositionFormat): Buffer;
  /** Jobs currently exposed and jobs hidden as idle past the TTL. */
  counts(): { exposed: number; idle: number };
}

export function createJobExposition(deps: {
  state: JobState;
  clock: Clock;
  idleTtlMs: number;
  expectedDuration: (jobName: string) => number | undefined;
  families?: JobFamily[];
}): JobExposition {
  const families = deps.families ?? CORE_JOB_FAMILIES;
  const cache = new Map<string, CacheEntry>();
  const headers = {
    text: families.map((f) => Buffer.from(familyHeader(f.metric, 'text'))),
    openmetrics: families.map((f) => Buffer.from(familyHeader(f.metric, 'openmetrics'))),
  };
  let lastCounts = { exposed: 0, idle: 0 };

  const isExposed = (job: Job, run: Run | undefined, now: number): boolean =>
    job.last_seen_at >= now - deps.idleTtlMs || (run !== undefined && !isTerminal(run.state));

  return {
    render(format) {
      const now = deps.clock.now();
      const views: { view: JobView; entry: CacheEntry }[] = [];
      let idle = 0;
      for (const job of deps.state.allJobs()) {
        const run = deps.state.latestRun(job);
        if (!isExposed(job, run, now)) {
          idle += 1;
          cache.delete(job.job_name);
          continue;
        }
        const expected = deps.expectedDuration(job.job_name);
        let entry = cache.get(job.job_name);
        const view: JobView = { job, run, expected, label: `job_name="${escapeLabelValue(job.job_name)}"` };
        if (!entry || entry.job !== job || entry.run !== run || entry.expected !== expected) {
          entry = { job, run, expected, lines: families.map((f) => (f.volatile ? EMPTY : Buffer.from(f.lines(view)))) };
          cache.set(job.job_name, entry);
        }
        views.push({ view, entry });
      }
      lastCounts = { exposed: views.length, idle };
      const out: Buffer[] = [];
      let size = 0;
      families.forEach((f, i) => {
        const header = headers[format][i] as Buffer;
        out.push(header);
        size += header.length;
        for (const { view, entry } of views) {
          const b = f.volatile ? Buffer.from(f.lines(view)) : (entry.lines[i] as Buffer);
          out.push(b);
          size += b.length;
        }
      });
      return Buffer.concat(out, size);
    },
    counts: () => lastCounts,
  };
}
