/**
 * The run detectors: pure functions from what the agent knows (runs, child batch
 * counts, learned baselines, per-job expectations) and an injected `now` to the events
 * the clock emits. No I/O, no clock of their own.
 *
 * Rules shared by every detector
 * - A deadline has passed when `now > deadline` (strictly): a heartbeat that lands
 *   exactly on the deadline is on time.
 * - An event is stamped with its deadline (when it happened), not with the sweep time
 *   (when it was noticed), and carries a deterministic `event_id` built from the run and
 *   the deadline, so a second sweep or a restarted agent re-emits the same id and ingest
 *   drops it as a duplicate.
 * - Every verdict carries a `precondition` (the state and the sign of life it was based
 *   on); if a heartbeat wins the race, the lifecycle records the verdict as stale.
 * - Three clocks are kept apart: silence (stuck_after, or crash_after for child batches),
 *   overlong runs (max_duration) and late starts (schedule + grace, see schedule.ts).
 */
import type { JobExpectations } from '../../config/schema.js';
import type { EventDraft } from '../../domain/job-event.js';
import { FAILURE_STATES, isTerminal, lastSignOfLife, runDurationSeconds, type Run, type RunState } from '../../domain/run.js';
import { formatDuration } from '../../runtime/duration.js';

/** Counts of one parent's child runs by state, and when the newest child ended. */
export interface BatchCounts {
  total: number;
  by_state: Partial<Record<RunState, number>>;
  /** Newest ended_at among the terminal children (unix ms). */
  last_ended_at?: number;
}

export interface Baseline {
  p50: number;
  p95: number;
  samples: number;
}

export interface DetectorView {
  /** Unfinished runs and each job's latest run. */
  runs: Iterable<Run>;
  /** Succeeded runs finished since the last sweep (they may have left memory already). */
  finished?: Iterable<Run>;
  batches?: (parentRunId: string) => BatchCounts | undefined;
  baseline?: (jobName: string) => Baseline | undefined;
}

export interface DetectOptions {
  /** A success shorter than this fraction of the learned p50 is too short; 0 = off. */
  too_short_factor: number;
  finish_parent: boolean;
  parent_fails_on: 'any' | 'all';
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { too_short_factor: 0, finish_parent: true, parent_fails_on: 'any' };

export type ExpectationsOf = (jobName: string) => JobExpectations;

const SOURCE = 'clock';
const iso = (ms: number): string => new Date(ms).toISOString();

const draft = (run: Run, event: EventDraft['event'], deadline: number, extra: Partial<EventDraft> = {}): EventDraft => ({
  event_id: `${event}:${run.run_id}:${deadline}`,
  job_name: run.job_name,
  run_id: run.run_id,
  event,
  source: SOURCE,
  timestamp: deadline,
  ...extra,
});

/**
 * A running run silent (no heartbeat, progress or start) for stuck_after is flagged stuck.
 * `childrenAlive` is the newest sign of life of its unfinished child batches: a parent whose
 * work happens in its children reports nothing itself until one of them finishes, and
 * was paged as stuck while every child was still busy reporting.
 */
export function detectStuck(run: Run, now: number, exp: JobExpectations, childrenAlive?: number): EventDraft | undefined {
  if (run.state !== 'running' || run.stuck || run.parent_run_id !== undefined) return undefined;
  const own = lastSignOfLife(run);
  const alive = Math.max(own, childrenAlive ?? 0);
  const deadline = alive + exp.stuck_after;
  if (!(now > deadline)) return undefined;
  const whose = alive > own ? ' from the run or its unfinished child batches' : '';
  return draft(run, 'stuck', deadline, {
    error_message: `no heartbeat or progress${whose} for ${formatDuration(exp.stuck_after)} (stuck_after) since ${iso(alive)}`,
    // The run's own sign of life: the lifecycle compares the run's, and a heartbeat of the
    // parent after this verdict still makes it stale.
    precondition: { state: 'running', alive_at: own },
  });
}

/** A run still submitting after submitting_timeout times out. */
export function detectSubmittingTimeout(run: Run, now: number, exp: JobExpectations): EventDraft | undefined {
  if (run.state !== 'submitting') return undefined;
  const since = run.submitted_at ?? run.created_at;
  const deadline = since + exp.submitting_timeout;
  if (!(now > deadline)) return undefined;
  return draft(run, 'timed_out', deadline, {
    error_message: `submission did not start running within ${formatDuration(exp.submitting_timeout)} (submitting_timeout); submitted at ${iso(since)}`,
    precondition: { state: 'submitting' },
  });
}

/** A run running past max_duration times out, or is flagged overdue (max_duration_action: flag). */
export function detectMaxDuration(run: Run, now: number, exp: JobExpectations): EventDraft | undefined {
  if (run.state !== 'running' || exp.max_duration === undefined || run.started_at === undefined) return undefined;
  const deadline = run.started_at + exp.max_duration;
  if (!(now > deadline)) return undefined;
  const why = `ran longer than ${formatDuration(exp.max_duration)} (max_duration) since ${iso(run.started_at)}`;
  if (exp.max_duration_action === 'flag') {
    return run.overdue ? undefined : draft(run, 'overdue', deadline, { error_message: why, precondition: { state: 'running' } });
  }
  return draft(run, 'timed_out', deadline, { error_message: why, precondition: { state: 'running' } });
}

/** A running child batch silent for crash_after is crashed. */
export function detectCrashedChild(run: Run, now: number, exp: JobExpectations): EventDraft | undefined {
  if (run.state !== 'running' || run.parent_run_id === undefined) return undefined;
  const alive = lastSignOfLife(run);
  const deadline = alive + exp.crash_after;
  if (!(now > deadline)) return undefined;
  return draft(run, 'crashed', deadline, {
    error_message: `did not report within the expected time: no sign of life for ${formatDuration(exp.crash_after)} (crash_after) since ${iso(alive)}`,
    precondition: { state: 'running', alive_at: alive },
  });
}

/** A success faster than min_duration, or than too_short_factor × learned p50, is flagged. */
export function detectTooShort(run: Run, exp: JobExpectations, baseline: Baseline | undefined, factor: number): EventDraft | undefined {
  if (run.state !== 'succeeded' || run.too_short || run.ended_at === undefined) return undefined;
  const d = runDurationSeconds(run);
  if (d === undefined) return undefined;
  let why: string | undefined;
  if (exp.min_duration !== undefined && d * 1000 < exp.min_duration) {
    why = `succeeded in ${d}s, less than min_duration ${formatDuration(exp.min_duration)}`;
  } else if (factor > 0 && baseline && d < baseline.p50 * factor) {
    why = `succeeded in ${d}s, less than ${factor} × the learned p50 of ${baseline.p50}s (${baseline.samples} runs)`;
  }
  if (!why) return undefined;
  return { ...draft(run, 'too_short', run.ended_at, { error_message: why, precondition: { state: 'succeeded' } }), event_id: `too_short:${run.run_id}` };
}

/**
 * A parent run with child batches: its progress is finished / all children, and once
 * every child is terminal it finishes — failed if any (or, with parent_fails_on: all,
 * every) child failed, crashed or timed out.
 */
export function detectParent(run: Run, counts: BatchCounts | undefined, opts: DetectOptions): EventDraft | undefined {
  if (isTerminal(run.state) || !counts || counts.total === 0) return undefined;
  let finished = 0;
  let failed = 0;
  for (const [state, n] of Object.entries(counts.by_state) as [RunState, number][]) {
    if (isTerminal(state)) finished += n;
    if (FAILURE_STATES.has(state)) failed += n;
  }
  const at = counts.last_ended_at ?? run.last_event_at;
  if (finished === counts.total && opts.finish_parent) {
    const fails = opts.parent_fails_on === 'any' ? failed > 0 : failed === counts.total;
    const id = `batches_done:${run.run_id}:${counts.total}`;
    return fails
      ? { ...draft(run, 'failed', at, { error_message: `${failed} of ${counts.total} child batches failed, crashed or timed out`, precondition: { state: run.state } }), event_id: id }
      : { ...draft(run, 'succeeded', at, { precondition: { state: run.state } }), event_id: id };
  }
  const progress = Math.floor((finished / counts.total) * 10_000) / 100;
  if (finished === 0 || (run.progress ?? -1) >= progress) return undefined;
  return {
    ...draft(run, 'progress', at, { progress, records_total: counts.total, precondition: { state: run.state } }),
    event_id: `batches:${run.run_id}:${finished}/${counts.total}`,
  };
}

/** One sweep over the view: every verdict due at `now`. */
export function detect(view: DetectorView, now: number, expectations: ExpectationsOf, opts: DetectOptions = DEFAULT_DETECT_OPTIONS): EventDraft[] {
  const out: EventDraft[] = [];
  const short = new Set<string>();
  const tooShort = (run: Run): void => {
    if (short.has(run.run_id)) return;
    short.add(run.run_id);
    const d = detectTooShort(run, expectations(run.job_name), view.baseline?.(run.job_name), opts.too_short_factor);
    if (d) out.push(d);
  };
  // Newest sign of life of each parent's unfinished children. view.runs may be a one-shot
  // iterator and a parent may come before its children: runs due for a stuck verdict wait
  // until the whole view has been seen (few are due at once; the map holds one entry per parent).
  const childrenAlive = new Map<string, number>();
  const stuckCandidates: { run: Run; exp: JobExpectations; overdue: EventDraft | undefined }[] = [];
  const stuckParents: Run[] = [];
  for (const run of view.runs) {
    if (run.parent_run_id !== undefined && !isTerminal(run.state)) {
      const t = lastSignOfLife(run);
      if (t > (childrenAlive.get(run.parent_run_id) ?? 0)) childrenAlive.set(run.parent_run_id, t);
    }
    if (run.state === 'succeeded') {
      tooShort(run);
      continue;
    }
    if (isTerminal(run.state)) continue;
    const exp = expectations(run.job_name);
    // A run gets at most one terminal verdict per sweep; flags only while it is not ending.
    const end = detectSubmittingTimeout(run, now, exp) ?? detectCrashedChild(run, now, exp) ?? (exp.max_duration_action === 'timeout' ? detectMaxDuration(run, now, exp) : undefined);
    if (end) {
      out.push(end);
      continue;
    }
    const parent = view.batches ? detectParent(run, view.batches(run.run_id), opts) : undefined;
    if (parent) {
      // The parent's progress is its sign of life: no stuck verdict in the same sweep.
      out.push(parent);
      continue;
    }
    const overdue = exp.max_duration_action === 'flag' ? detectMaxDuration(run, now, exp) : undefined;
    if (run.stuck && run.parent_run_id === undefined) stuckParents.push(run);
    if (detectStuck(run, now, exp)) stuckCandidates.push({ run, exp, overdue });
    else if (overdue) out.push(overdue);
  }
  for (const { run, exp, overdue } of stuckCandidates) {
    const stuck = detectStuck(run, now, exp, childrenAlive.get(run.run_id));
    if (stuck) out.push(stuck);
    if (overdue) out.push(overdue);
  }
  // A run flagged stuck whose child batches report again is alive again: a heartbeat at the
  // child's time clears the flag through the lifecycle, as the run's own would. Without it the
  // flag (and JobStuck) stayed until the parent itself reported, which a parent that only
  // waits for its batches never does. The verdict's time is in last_event_at: only a child's
  // sign of life after it counts.
  for (const run of stuckParents) {
    const alive = childrenAlive.get(run.run_id);
    if (alive !== undefined && alive > run.last_event_at) out.push(draft(run, 'heartbeat', alive, { precondition: { state: run.state } }));
  }
  for (const run of view.finished ?? []) tooShort(run);
  return out;
}
