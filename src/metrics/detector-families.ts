/**
 * Per-job families the detectors add: batches of the running parent, missed schedules,
 * the next expected start, and the configured max_age / min_duration so one generic rule
 * covers every job (`time() - job_last_success_time_seconds > job_max_age_seconds`).
 */
import type { JobExpectations } from '../config/schema.js';
import { RUN_STATES } from '../domain/run.js';
import type { BatchCounts } from '../sources/clock/detect.js';
import { formatValue } from './exposition-format.js';
import type { JobFamily } from './job-exposition.js';
import { JOB_METRICS as J } from './names.js';

const BATCH_STATES = RUN_STATES.filter((s) => s !== 'missed');

export function createDetectorFamilies(deps: {
  expectations: (jobName: string) => JobExpectations;
  batches: (parentRunId: string) => BatchCounts | undefined;
  nextExpected: (jobName: string) => number | undefined;
}): JobFamily[] {
  return [
    {
      metric: J.batches,
      // Child counts change without the parent's snapshot changing.
      volatile: true,
      lines: ({ run, label }) => {
        const c = run ? deps.batches(run.run_id) : undefined;
        if (!c || c.total === 0) return '';
        let s = '';
        for (const st of BATCH_STATES) s += `job_batches{${label},state="${st}"} ${c.by_state[st] ?? 0}\n`;
        return s;
      },
    },
    {
      metric: J.missedRuns,
      lines: ({ job, label }) =>
        job.missed_total !== undefined || deps.expectations(job.job_name).schedule !== undefined ? `job_missed_runs_total{${label}} ${job.missed_total ?? 0}\n` : '',
    },
    {
      metric: J.nextExpected,
      volatile: true,
      lines: ({ job, label }) => {
        const t = deps.nextExpected(job.job_name);
        return t === undefined ? '' : `job_next_expected_run_time_seconds{${label}} ${formatValue(t / 1000)}\n`;
      },
    },
    {
      metric: J.maxAge,
      lines: ({ job, label }) => {
        const v = deps.expectations(job.job_name).max_age;
        return v === undefined ? '' : `job_max_age_seconds{${label}} ${formatValue(v / 1000)}\n`;
      },
    },
    {
      // Only next to max_age, which is what needs it: JobNoRecentSuccess of a job that never
      // succeeded counts from here (it has no job_last_success_time_seconds to count from).
      metric: J.firstSeen,
      lines: ({ job, label }) =>
        deps.expectations(job.job_name).max_age === undefined ? '' : `job_first_seen_time_seconds{${label}} ${formatValue(job.first_seen_at / 1000)}\n`,
    },
    {
      metric: J.minDuration,
      lines: ({ job, label }) => {
        const v = deps.expectations(job.job_name).min_duration;
        return v === undefined ? '' : `job_min_duration_seconds{${label}} ${formatValue(v / 1000)}\n`;
      },
    },
    { metric: J.tooShort, lines: ({ run, label }) => `job_too_short{${label}} ${run?.state === 'succeeded' && run.too_short ? 1 : 0}\n` },
  ];
}
