/**
 * What one look at a Spark API tells us about one application, in jobpulse words, and
 * the one table that maps every API's own states to those words.
 *
 * State mapping (the operators' table; PROVENANCE.md §6 of the fixtures lists the sources)
 *
 * | observed   | standalone REST driverState (+ master /json drivers) | master /json app state | monitoring API (app)                         | YARN state (+finalStatus)                 | Livy batch state |
 * |------------|------------------------------------------------------|------------------------|----------------------------------------------|-------------------------------------------|------------------|
 * | queued     | —                                                    | WAITING                | —                                            | ACCEPTED                                  | not_started      |
 * | submitting | SUBMITTED                                            | —                      | —                                            | NEW, NEW_SAVING, SUBMITTED                | starting         |
 * | running    | RUNNING, RELAUNCHING                                 | RUNNING                | attempts[0].completed = false                | RUNNING                                   | running, idle, busy, shutting_down |
 * | succeeded  | FINISHED                                             | FINISHED               | completed, exitCode 0 (or no exitCode and no FAILED job) | FINISHED + SUCCEEDED          | success          |
 * | failed     | FAILED, ERROR                                        | FAILED                 | completed, exitCode ≠ 0 (or a FAILED job)    | FINISHED + FAILED, FAILED                 | dead, error      |
 * | cancelled  | KILLED                                               | KILLED                 | — (Spark shows killed jobs as FAILED)        | FINISHED + KILLED, KILLED                 | killed           |
 * | unknown    | UNKNOWN, `success:false` (master not ALIVE)          | UNKNOWN                | —                                            | FINISHED + UNDEFINED                      | recovering       |
 *
 * Why queued and not submitting for YARN ACCEPTED and standalone WAITING: the driver is
 * waiting for cluster capacity, which can legitimately take long on a full cluster; the
 * submitting timeout (issue 6's detector) only applies to `submitting`, so a busy cluster
 * does not turn healthy runs into timed_out ones. `unknown` never emits an event: the
 * cluster manager is recovering and the run keeps its last known state.
 *
 * Observed states become events (see drafts.ts): queued → `queued`, submitting →
 * `submitted`, running → `started` then `progress`, succeeded/failed/cancelled → the
 * same-named terminal event.
 */
export const OBSERVED_STATES = ['queued', 'submitting', 'running', 'succeeded', 'failed', 'cancelled', 'unknown'] as const;
export type ObservedState = (typeof OBSERVED_STATES)[number];

export const TERMINAL_OBSERVED: ReadonlySet<ObservedState> = new Set<ObservedState>(['succeeded', 'failed', 'cancelled']);

export interface SparkObservation {
  /** The id the run is tracked by (submission id, application id, batch id). */
  id: string;
  /** The application name, for discovery's job-name rule. */
  name?: string;
  state: ObservedState;
  /** The API's own state, e.g. `FINISHED/FAILED`, kept in the event metadata for operators. */
  native: string;
  /** 0–100, only where the API offers real task counts. */
  progress?: number;
  submitted_at?: number;
  started_at?: number;
  ended_at?: number;
  error_message?: string;
  exit_code?: number;
  /** A linked Spark/YARN application id (Livy's appId), kept as a label. */
  app_id?: string;
}

/** The one table: each API's state (upper-case for Spark/YARN, as served for Livy) → observed. */
export const STATE_TABLE = {
  standaloneDriver: {
    SUBMITTED: 'submitting',
    RUNNING: 'running',
    RELAUNCHING: 'running',
    FINISHED: 'succeeded',
    FAILED: 'failed',
    ERROR: 'failed',
    KILLED: 'cancelled',
    UNKNOWN: 'unknown',
  },
  standaloneApp: {
    WAITING: 'queued',
    RUNNING: 'running',
    FINISHED: 'succeeded',
    FAILED: 'failed',
    KILLED: 'cancelled',
    UNKNOWN: 'unknown',
  },
  yarn: {
    NEW: 'submitting',
    NEW_SAVING: 'submitting',
    SUBMITTED: 'submitting',
    ACCEPTED: 'queued',
    RUNNING: 'running',
    FAILED: 'failed',
    KILLED: 'cancelled',
    // FINISHED depends on finalStatus: see yarnFinished.
  },
  yarnFinished: {
    SUCCEEDED: 'succeeded',
    FAILED: 'failed',
    KILLED: 'cancelled',
    UNDEFINED: 'unknown',
  },
  livy: {
    not_started: 'queued',
    starting: 'submitting',
    recovering: 'unknown',
    running: 'running',
    idle: 'running',
    busy: 'running',
    shutting_down: 'running',
    success: 'succeeded',
    dead: 'failed',
    error: 'failed',
    killed: 'cancelled',
  },
} as const satisfies Record<string, Record<string, ObservedState>>;

/** Looks a native state up in one column of the table; anything unlisted is `unknown`. */
export function mapState(column: Record<string, ObservedState>, native: unknown): ObservedState {
  return typeof native === 'string' && Object.hasOwn(column, native) ? (column[native] as ObservedState) : 'unknown';
}

export interface TaskCounts {
  numTasks?: unknown;
  numSkippedTasks?: unknown;
  numCompletedIndices?: unknown;
  numCompletedTasks?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Progress as the Spark UI draws it: Σ completed indices / Σ (tasks − skipped) over the
 * app's jobs, in percent, clamped to 0–100, one decimal. `numCompletedIndices` is absent
 * before Spark 2.3: fall back to `numCompletedTasks`. Old history files report
 * numSkippedTasks = numTasks, so the denominator can be zero: then there is no progress.
 */
export function taskProgress(jobs: readonly TaskCounts[]): number | undefined {
  let done = 0;
  let total = 0;
  for (const j of jobs) {
    const tasks = num(j.numTasks) ?? 0;
    const skipped = num(j.numSkippedTasks) ?? 0;
    done += num(j.numCompletedIndices) ?? num(j.numCompletedTasks) ?? 0;
    total += Math.max(0, tasks - skipped);
  }
  if (total <= 0) return undefined;
  return Math.round(Math.min(100, Math.max(0, (100 * done) / total)) * 10) / 10;
}

/** Unix ms from a number (ms) or a numeric string; `0`/negative mean "not yet". */
export function epochMs(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A response that does not have the shape the API documents. */
export class UnexpectedResponseError extends Error {
  override readonly name = 'UnexpectedResponseError';
}
