/**
 * The run lifecycle: one table and one function.
 *
 *   queued ─► submitting ─► running ─► succeeded | failed | cancelled | timed_out | crashed
 *
 * States
 * - queued      the job asked for a slot (a scheduler queue, YARN ACCEPTED, standalone WAITING).
 * - submitting  handed to a cluster, not yet running (spark-submit returned, driver SUBMITTED).
 * - running     the run has started; progress, heartbeats and records move it along.
 * - succeeded, failed, cancelled   reported by the job or its cluster.
 * - timed_out   a detector saw a deadline pass (submitting too long, or max duration).
 * - crashed     a detector saw a child batch go silent while running.
 * - missed      a scheduled run that never started: the schedule detector records a synthetic
 *               run (`missed:<job>:<expected ms>`, created and ended at the expected time) so the
 *               miss sits in the job's history like any run. It is never the job's latest run,
 *               counts in `job_missed_runs_total`, not in runs or failures.
 *
 * Flags (not states) on a running run: `stuck` (no sign of life for stuck_after; cleared by the
 * next heartbeat, progress or start) and `overdue` (past max_duration on a job configured to flag).
 * A succeeded run may be flagged `too_short`.
 *
 * Detector verdicts carry a `precondition` (compare-and-set): the state the detector saw and
 * the newest sign of life it based the deadline on. If the run moved on before the verdict
 * was committed (a heartbeat won the race), the verdict is recorded as stale, not applied.
 *
 * Out-of-order policy
 * - A run may be created by any event: `progress` or `heartbeat` on an unknown run means it
 *   is running; a finish without a start creates the finished run with no start time (its
 *   duration is unknown rather than invented).
 * - Terminal states are final. Anything arriving after the end (a late progress, a second
 *   finish, a child's report after it was marked crashed) is recorded in the event log with
 *   the reason it was ignored, and never reopens the run: an alert that fired stays explained.
 * - Moving backwards (`queued` after `started`) is recorded and ignored.
 * - Progress is monotonic within a run: the gauge shows the highest value seen; a lower value
 *   is still a sign of life. `succeeded` sets progress to 100. `records_processed` and `errors`
 *   are the run's running totals as the job reports them (highest value wins), so a re-sent
 *   event never double-counts.
 * - A retry is a new run: the client starts a new run with `retry_attempt` > 0. The highest
 *   retry_attempt seen wins (an event without it, or with 0, does not make a retry a first
 *   attempt again), so the run counts once in job_retries_total.
 * - Duplicate deliveries never reach this function: ingest drops an event whose
 *   `event_id` is already in the durable log.
 *
 * `apply` has no I/O and no clock: every time it writes comes from the event.
 */
import type { EventType, JobEvent } from './job-event.js';
import { isTerminal, lastSignOfLife, type Run, type RunState } from './run.js';

/** `new` is the pseudo-state of a run that does not exist yet. */
export type FromState = RunState | 'new';

/**
 * What each event does from each state: the target state, `'stay'` (fields update,
 * state unchanged) or absent (recorded, ignored). Terminal states have no entries.
 */
export const TRANSITIONS: Readonly<Record<FromState, Partial<Record<EventType, RunState | 'stay'>>>> = {
  new: {
    queued: 'queued',
    submitted: 'submitting',
    started: 'running',
    progress: 'running',
    heartbeat: 'running',
    succeeded: 'succeeded',
    failed: 'failed',
    cancelled: 'cancelled',
    timed_out: 'timed_out',
    crashed: 'crashed',
    missed: 'missed',
  },
  queued: {
    queued: 'stay',
    submitted: 'submitting',
    started: 'running',
    progress: 'running',
    heartbeat: 'running',
    succeeded: 'succeeded',
    failed: 'failed',
    cancelled: 'cancelled',
    timed_out: 'timed_out',
    crashed: 'crashed',
  },
  submitting: {
    submitted: 'stay',
    started: 'running',
    progress: 'running',
    heartbeat: 'running',
    succeeded: 'succeeded',
    failed: 'failed',
    cancelled: 'cancelled',
    timed_out: 'timed_out',
    crashed: 'crashed',
  },
  running: {
    started: 'stay',
    progress: 'stay',
    heartbeat: 'stay',
    stuck: 'stay',
    overdue: 'stay',
    succeeded: 'succeeded',
    failed: 'failed',
    cancelled: 'cancelled',
    timed_out: 'timed_out',
    crashed: 'crashed',
  },
  succeeded: { too_short: 'stay' },
  failed: {},
  cancelled: {},
  timed_out: {},
  crashed: {},
  missed: {},
};

export type ApplyResult =
  | { applied: true; run: Run; from: FromState }
  | { applied: false; run: Run | undefined; from: FromState; reason: string; /** Set when the run belongs to another job than the event names. */ owner?: string };

const SIGN_OF_LIFE: ReadonlySet<EventType> = new Set<EventType>(['started', 'progress', 'heartbeat']);

export function apply(run: Run | undefined, event: JobEvent): ApplyResult {
  const from: FromState = run ? run.state : 'new';
  // Run ids are global. One reused by another job (a build number, a ping's rid) would finish
  // or restart that job's run, and count it for the job named in the event.
  if (run && run.job_name !== event.job_name)
    return {
      applied: false,
      run,
      from,
      owner: run.job_name,
      reason: `run ${event.run_id} belongs to job ${JSON.stringify(run.job_name)}, not ${JSON.stringify(event.job_name)}: run ids are global, make them unique across jobs`,
    };
  const pre = event.precondition;
  if (pre && run && (run.state !== pre.state || (pre.alive_at !== undefined && lastSignOfLife(run) > pre.alive_at))) {
    return { applied: false, run, from, reason: `stale ${event.event} verdict: the run changed (now ${run.state}) after the detector looked` };
  }
  const to = TRANSITIONS[from][event.event];
  if (to === undefined) {
    const reason = !run
      ? `no run ${event.run_id} to mark ${event.event}`
      : isTerminal(run.state)
        ? `run already ${run.state}; ${event.event} recorded, not applied`
        : `${event.event} does not apply to a ${run.state} run`;
    return { applied: false, run, from, reason };
  }

  // Object.assign, not spread: see applyToJob (one V8 hidden class per snapshot otherwise).
  const base: Run = run
    ? Object.assign({}, run)
    : {
        run_id: event.run_id,
        job_name: event.job_name,
        state: 'queued',
        source: event.source,
        created_at: event.timestamp,
        last_event_at: event.timestamp,
        labels: {},
        stuck: false,
        overdue: false,
        event_count: 0,
      };
  const next = base;
  const t = event.timestamp;
  const state: RunState = to === 'stay' ? next.state : to;

  if (state !== next.state || !run) {
    if (state === 'queued') next.queued_at ??= t;
    if (state === 'submitting') next.submitted_at ??= t;
    if (state === 'running') next.started_at ??= t;
    if (isTerminal(state)) {
      next.ended_at = t;
      next.stuck = false;
    }
  }
  next.state = state;
  next.event_count += 1;
  next.last_event_at = Math.max(next.last_event_at, t);
  if (event.parent_run_id !== undefined) next.parent_run_id ??= event.parent_run_id;

  if (SIGN_OF_LIFE.has(event.event)) {
    next.last_heartbeat_at = Math.max(next.last_heartbeat_at ?? 0, t);
    next.stuck = false;
  }
  if (event.event === 'stuck') next.stuck = true;
  if (event.event === 'overdue') next.overdue = true;
  if (event.event === 'too_short') next.too_short = true;

  if (event.progress !== undefined && event.progress > (next.progress ?? -1)) {
    next.progress = event.progress;
    next.last_progress_at = t;
  }
  if (state === 'succeeded') next.progress = 100;
  if (event.records_processed !== undefined && event.records_processed > (next.records_processed ?? -1)) {
    if (next.records_processed !== undefined) next.last_progress_at = t;
    next.records_processed = event.records_processed;
  }
  if (event.records_total !== undefined) next.records_total = event.records_total;
  if (event.errors !== undefined) next.errors = Math.max(next.errors ?? 0, event.errors);
  if (event.retry_attempt !== undefined) next.retry_attempt = Math.max(next.retry_attempt ?? 0, event.retry_attempt);
  if (event.exit_code !== undefined) next.exit_code = event.exit_code;
  if (event.error_message !== undefined) next.error_message = event.error_message;
  if (event.labels) next.labels = { ...next.labels, ...event.labels };
  if (event.metadata !== undefined) next.metadata = mergeMetadata(next.metadata, event.metadata);
  if (event.resources) next.resources = { ...next.resources, ...event.resources };
  return { applied: true, run: next, from };
}

/** Object metadata merges key by key (a batch adds fields as it goes); anything else replaces. */
function mergeMetadata(prev: unknown, next: unknown): unknown {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  return isObj(prev) && isObj(next) ? { ...prev, ...next } : next;
}
