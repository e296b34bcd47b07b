import type { JobEvent } from './job-event.js';
import { FAILURE_STATES, isTerminal, runDurationSeconds, type Run, type RunState } from './run.js';

/** Upper bounds (seconds) of job_run_duration_seconds; kept short because every job carries them. */
export const DURATION_BUCKETS_SECONDS = [10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400] as const;

export type Outcome = Exclude<RunState, 'queued' | 'submitting' | 'running' | 'missed'>;
export const OUTCOMES: readonly Outcome[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'crashed'];

/** The logical, recurring job: what /metrics shows one series set for. Times are unix ms. */
export interface Job {
  job_name: string;
  first_seen_at: number;
  /** Receive time of the newest event: drives the idle TTL. */
  last_seen_at: number;
  latest_run_id: string;
  latest_run_created_at: number;
  last_success_at?: number;
  last_failure_at?: number;
  last_duration_seconds?: number;
  runs_total: Record<Outcome, number>;
  records_processed_total: number;
  errors_total: number;
  retries_total: number;
  /** Cumulative (non-"le") counts per DURATION_BUCKETS_SECONDS bucket, +Inf is duration_count. */
  duration_buckets: number[];
  duration_sum_seconds: number;
  duration_count: number;
  source: string;
  /** Scheduled runs that never started (absent in snapshots written before the schedule detector). */
  missed_total?: number;
  /** Expected time (unix ms) of the newest missed run. */
  last_missed_at?: number;
}

const emptyOutcomes = (): Record<Outcome, number> => ({
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  timed_out: 0,
  crashed: 0,
});

export const newJob = (event: JobEvent): Job => ({
  job_name: event.job_name,
  first_seen_at: event.received_at,
  last_seen_at: event.received_at,
  latest_run_id: event.run_id,
  latest_run_created_at: event.timestamp,
  runs_total: emptyOutcomes(),
  records_processed_total: 0,
  errors_total: 0,
  retries_total: 0,
  duration_buckets: DURATION_BUCKETS_SECONDS.map(() => 0),
  duration_sum_seconds: 0,
  duration_count: 0,
  source: event.source,
});

/**
 * How far `last_seen_at` may lag the newest event (it drives the idle TTL, counted in days):
 * a heartbeat or progress that changes nothing else keeps the job snapshot as it is instead
 * of copying it, so a busy job is not copied per event (each copy outlives a young-generation
 * GC while it is the job's newest: at 100k events/s that copying was a quarter of the event loop).
 */
export const LAST_SEEN_STEP_MS = 1000;

/**
 * Folds one applied run change into the job's aggregates. Pure: the caller
 * passes the run before (undefined for a new run) and after the event.
 */
export function applyToJob(job: Job | undefined, prev: Run | undefined, next: Run, event: JobEvent): Job {
  const recDelta = (next.records_processed ?? 0) - (prev?.records_processed ?? 0);
  const errDelta = (next.errors ?? 0) - (prev?.errors ?? 0);
  const finishedNow = isTerminal(next.state) && (!prev || !isTerminal(prev.state));
  // A retry counts once, when its run first carries retry_attempt > 0, whichever event brings
  // it: a run often begins with queued or submitted and learns its attempt number when it
  // starts. retry_attempt never falls back to 0 within a run (lifecycle.ts), so never twice.
  const retriedNow = (next.retry_attempt ?? 0) > 0 && (prev?.retry_attempt ?? 0) === 0;
  const counts = !prev || recDelta > 0 || errDelta > 0 || finishedNow || retriedNow || next.state === 'missed';
  if (job && !counts && job.source === event.source && event.received_at - job.last_seen_at < LAST_SEEN_STEP_MS) return job;
  // Object.assign, not spread: a spread copy that then gains a property gets a hidden class
  // of its own in V8, and with 10k jobs those classes cost ~1 KB per job (heap snapshot).
  // runs_total and duration_buckets are shared with the previous snapshot until a run
  // finishes (copy on write): snapshots are never mutated, and most events finish nothing.
  const j: Job = job ? Object.assign({}, job) : newJob(event);
  if (next.state === 'missed') {
    // A missed run is history only: it never becomes the latest run and is no outcome.
    if (!job) {
      // A job first known by a miss has no latest run yet (newJob took the missed run as it,
      // so the API showed state missed and /metrics an end time at the deadline); its first
      // real run, whenever it was created, becomes the latest.
      j.latest_run_id = '';
      j.latest_run_created_at = 0;
    }
    if (!prev) {
      j.missed_total = (j.missed_total ?? 0) + 1;
      j.last_missed_at = Math.max(j.last_missed_at ?? 0, next.created_at);
    }
    j.last_seen_at = Math.max(j.last_seen_at, event.received_at);
    return j;
  }
  j.last_seen_at = Math.max(j.last_seen_at, event.received_at);
  j.source = event.source;
  // A child batch of the job's own current run (children pushed under the parent's job name):
  // the parent stays the job's run, so job_status, JobRunFailed and job_batches follow the
  // parent; a child's outcome is the parent's business (detectors.parent_fails_on), not a run
  // of the job. Before, the newest child became the job's latest run: a failed parent never
  // paged when its last child succeeded, and one crashed batch paged while the parent ran.
  const ownBatch = next.parent_run_id !== undefined && j.latest_run_id === next.parent_run_id && next.run_id !== next.parent_run_id;
  if (ownBatch) {
    if (recDelta > 0) j.records_processed_total += recDelta;
    if (errDelta > 0) j.errors_total += errDelta;
    return j;
  }

  if (!prev) {
    if (next.created_at >= j.latest_run_created_at || j.latest_run_id === next.run_id) {
      j.latest_run_id = next.run_id;
      j.latest_run_created_at = next.created_at;
    }
  }
  if (retriedNow) j.retries_total += 1;

  if (recDelta > 0) j.records_processed_total += recDelta;
  if (errDelta > 0) j.errors_total += errDelta;

  if (finishedNow) {
    if (job) {
      j.runs_total = Object.assign({}, job.runs_total);
      j.duration_buckets = job.duration_buckets.slice();
    }
    const outcome = next.state as Outcome;
    j.runs_total[outcome] += 1;
    const endedAt = next.ended_at ?? event.timestamp;
    if (outcome === 'succeeded') j.last_success_at = Math.max(j.last_success_at ?? 0, endedAt);
    if (FAILURE_STATES.has(outcome)) j.last_failure_at = Math.max(j.last_failure_at ?? 0, endedAt);
    const d = runDurationSeconds(next);
    // The last finished run's duration, unknown (and absent from /metrics) when that run has no
    // start: keeping an earlier run's value would pair this run's outcome with another's duration.
    j.last_duration_seconds = d;
    if (d !== undefined) {
      j.duration_count += 1;
      j.duration_sum_seconds += d;
      DURATION_BUCKETS_SECONDS.forEach((le, i) => {
        if (d <= le) j.duration_buckets[i] = (j.duration_buckets[i] ?? 0) + 1;
      });
    }
  }
  return j;
}

export const failuresTotal = (job: Job): number =>
  job.runs_total.failed + job.runs_total.timed_out + job.runs_total.crashed;
