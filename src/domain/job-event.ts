import type { RunState } from './run.js';

/**
 * The normalized event: every source (HTTP push, Pushgateway bridge, ping URLs,
 * CLI wrapper, Kafka, Spark poller, the detectors' clock) produces this shape and
 * hands it to ingest. Wire spelling (`job_name`, `run_id`) is kept on purpose so
 * the same words appear in JSON, SQL columns and code.
 */

/** Events a client may send. */
export const CLIENT_EVENT_TYPES = [
  'queued',
  'submitted',
  'started',
  'progress',
  'heartbeat',
  'succeeded',
  'failed',
  'cancelled',
] as const;

/** Events only the agent itself emits (detectors are the clock as a source). */
export const DETECTOR_EVENT_TYPES = ['timed_out', 'stuck', 'unstuck', 'crashed', 'overdue', 'missed', 'too_short'] as const;

export const EVENT_TYPES = [...CLIENT_EVENT_TYPES, ...DETECTOR_EVENT_TYPES] as const;

export type ClientEventType = (typeof CLIENT_EVENT_TYPES)[number];
export type EventType = (typeof EVENT_TYPES)[number];

export interface ResourceFigures {
  cpu_percent?: number;
  memory_percent?: number;
  memory_bytes?: number;
  io_read_ops?: number;
  io_write_ops?: number;
}

export interface JobEvent {
  /** Idempotency key: applying the same id twice changes nothing. Assigned when the client sends none. */
  event_id: string;
  job_name: string;
  run_id: string;
  event: EventType;
  /** `push`, `pushgateway`, `ping`, `cli`, `kafka`, `spark:<cluster>`, `clock`. */
  source: string;
  /** When it happened (client time, bounded skew), unix milliseconds. */
  timestamp: number;
  /** When the agent received it, unix milliseconds. */
  received_at: number;
  progress?: number;
  records_processed?: number;
  records_total?: number;
  errors?: number;
  retry_attempt?: number;
  exit_code?: number;
  error_message?: string;
  parent_run_id?: string;
  labels?: Record<string, string>;
  metadata?: unknown;
  resources?: ResourceFigures;
  /**
   * Compare-and-set guard a detector puts on its verdict: the run must still be in
   * `state` and show no sign of life newer than `alive_at` (unix ms), else the verdict
   * is stale (a heartbeat won the race) and the event is recorded, not applied.
   */
  precondition?: { state: RunState; alive_at?: number };
}

/**
 * What a source hands to ingest before the agent has resolved the run and
 * stamped the event: run_id and event_id may be missing, timestamp may be absent.
 */
export type EventDraft = Omit<JobEvent, 'event_id' | 'run_id' | 'timestamp' | 'received_at'> & {
  event_id?: string;
  run_id?: string;
  timestamp?: number;
};

export const isClientEventType = (v: string): v is ClientEventType =>
  (CLIENT_EVENT_TYPES as readonly string[]).includes(v);
