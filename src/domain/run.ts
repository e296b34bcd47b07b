import type { ResourceFigures } from './job-event.js';

export const RUN_STATES = [
  'queued',
  'submitting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'crashed',
  'missed',
] as const;
export type RunState = (typeof RUN_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<RunState> = new Set<RunState>([
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'crashed',
  'missed',
]);

/** Terminal states that count as a failure of the job (for job_failures_total and last failure time). */
export const FAILURE_STATES: ReadonlySet<RunState> = new Set<RunState>(['failed', 'timed_out', 'crashed']);

export const isTerminal = (s: RunState): boolean => TERMINAL_STATES.has(s);

/** One execution of a job. All times are unix milliseconds. */
export interface Run {
  run_id: string;
  job_name: string;
  parent_run_id?: string;
  state: RunState;
  /** Source of the first event that created the run. */
  source: string;
  created_at: number;
  queued_at?: number;
  submitted_at?: number;
  started_at?: number;
  ended_at?: number;
  /** Timestamp of the newest event applied (any kind). */
  last_event_at: number;
  /** Last sign of life: started, heartbeat or progress. */
  last_heartbeat_at?: number;
  /** Last time progress or records_processed moved forward. */
  last_progress_at?: number;
  progress?: number;
  records_processed?: number;
  records_total?: number;
  errors?: number;
  retry_attempt?: number;
  exit_code?: number;
  error_message?: string;
  labels: Record<string, string>;
  metadata?: unknown;
  resources?: ResourceFigures;
  /** Set by the stuck detector, cleared by the next heartbeat or progress. */
  stuck: boolean;
  /** Set when a run outlives its max duration and the job is configured to flag rather than time out. */
  overdue: boolean;
  /** Set by the too-short detector on a succeeded run that finished suspiciously fast. */
  too_short?: boolean;
  event_count: number;
}

/**
 * The newest sign of life of a run: heartbeat, progress, start, or (before it runs)
 * submission or creation. Stuck and crash deadlines count from here.
 */
export const lastSignOfLife = (run: Run): number =>
  Math.max(run.last_heartbeat_at ?? 0, run.last_progress_at ?? 0, run.started_at ?? run.submitted_at ?? run.created_at);

/** Seconds from start to end, when both are known. */
export const runDurationSeconds = (run: Run): number | undefined =>
  run.started_at !== undefined && run.ended_at !== undefined
    ? Math.max(0, run.ended_at - run.started_at) / 1000
    : undefined;
