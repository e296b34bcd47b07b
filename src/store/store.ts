/**
 * The Store contract. Every adapter (SQLite now, Redis for scale-out) must pass the
 * conformance suite in test/integration/store-conformance.test.ts.
 *
 * - Ownership: only ingest's single writer calls `commit`; everything else reads.
 * - Atomicity: one `commit` is all-or-nothing: its events, run snapshots and job
 *   snapshots become durable together, or none of them does.
 * - Durability: when `commit` resolves, the batch survives a process crash (and, with
 *   the `power` durability setting, a power loss).
 * - Idempotency: `events` carry unique `event_id`s; `findEvents` tells the writer which
 *   ids are already in the log so it can skip them before applying.
 * - Ordering: events of one run are returned in the order they were committed.
 * - Restart: `loadState` returns every job, every unfinished run and each job's latest
 *   run; no replay of the event log.
 */
import type { Job } from '../domain/job.js';
import type { JobEvent } from '../domain/job-event.js';
import type { Run, RunState } from '../domain/run.js';

/** An event as it sits in the durable log: what arrived and what the lifecycle made of it. */
export interface StoredEvent extends JobEvent {
  seq: number;
  applied: boolean;
  /** Why an event was recorded but not applied (e.g. it arrived after the run ended). */
  reason?: string;
}

export interface CommitBatch {
  events: { event: JobEvent; applied: boolean; reason?: string }[];
  /** Final snapshot of every run the batch changed. */
  runs: Run[];
  /** Final snapshot of every job the batch changed. */
  jobs: Job[];
}

export interface RunQuery {
  job_name?: string;
  parent_run_id?: string;
  states?: RunState[];
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface FinishedRun {
  job_name: string;
  state: RunState;
  ended_at: number;
  duration_seconds: number | null;
}

export interface Store {
  readonly kind: string;
  loadState(): Promise<{ jobs: Job[]; runs: Run[] }>;
  findEvents(eventIds: string[]): Promise<Map<string, { run_id: string }>>;
  getRuns(runIds: string[]): Promise<Map<string, Run>>;
  commit(batch: CommitBatch): Promise<void>;

  getRun(runId: string): Promise<Run | undefined>;
  listRuns(q: RunQuery): Promise<{ runs: Run[]; next_cursor?: string }>;
  listEvents(runId: string): Promise<StoredEvent[]>;
  finishedRuns(q: { job_name?: string; since: number; until: number }): Promise<FinishedRun[]>;
  /** Durations (seconds) of the newest `limit` succeeded runs of a job, newest first. */
  recentDurations(jobName: string, limit: number): Promise<number[]>;
  prune(q: { eventsBefore: number; runsBefore: number }): Promise<{ events: number; runs: number }>;
  /** Throws when the store cannot be written (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
