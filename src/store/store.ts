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
 *   client-chosen (`keyed`) ids are already in the log so it can skip them before applying.
 * - Ordering: events of one run are returned in the order they were committed.
 * - Restart: `loadState` returns every job, every unfinished run and each job's latest
 *   run; no full replay of the event log (an adapter that writes snapshots behind the log
 *   may reduce the log's tail it had not caught up with, as SQLite does).
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

/** The lease a singleton source writes under, and the fencing token of its holding. */
export interface Fence {
  lease: string;
  token: number;
}

export interface CommitBatch {
  /**
   * `keyed`: the client chose the event_id, so `findEvents` must find it again (retried
   * deliveries). Ids the agent assigned are unique by construction and need no lookup.
   * A store reads the events before `commit` returns: the caller may drop them then, rather
   * than keep them alive until the commit is answered.
   */
  events: { event: JobEvent; applied: boolean; reason?: string; keyed?: boolean }[];
  /** Final snapshot of every run the batch changed. */
  runs: Run[];
  /** Final snapshot of every job the batch changed. */
  jobs: Job[];
  /**
   * Set when the batch was produced by a leased singleton source. A shared store refuses
   * the whole commit with FencedWriteError (domain/errors.ts) if a newer token has been
   * granted for the lease since; adapters without leases (SQLite, one agent) ignore it.
   */
  fence?: Fence;
  /**
   * limits.max_jobs. A shared store refuses a commit that would create jobs past it with
   * StoreJobLimitError, counting every replica's jobs; a single-agent store may ignore it
   * (the writer's own count is exact there).
   */
  maxJobs?: number;
  /**
   * Set by a writer that pipelines (`Store.pipeline`): the batch was reduced on top of
   * earlier batches of the same epoch that are not answered yet, so it must fail if any
   * of them failed. The writer moves to a new epoch once it has seen a failure.
   */
  epoch?: number;
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

/** Run statistics of one job, or of all jobs, over one window (src/history/stats.ts). */
export interface RunStats {
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  success_rate: number | null;
  duration_seconds: { avg: number | null; p50: number | null; p95: number | null; max: number | null };
}

/** A window's statistics over all the runs asked for, and per job (jobs with no run in it are absent). */
export interface WindowSummary {
  overall: RunStats;
  jobs: Map<string, RunStats>;
}

/** One Pushgateway group as stored: the store keeps its families as opaque bytes. */
export interface StoredGroup {
  group_key: string;
  labels: Record<string, string>;
  /** Delimited protobuf MetricFamily messages (src/pushgateway/parse-protobuf.ts). */
  families: Uint8Array;
  push_time: number;
  push_failure_time: number;
  expires_at?: number;
}

export type GroupWrite = { put: StoredGroup } | { delete: string } | { wipe: true };

/**
 * Pushgateway groups. Contract: `write` applies its operations in order in one
 * transaction and is durable when it resolves (same durability as `commit`); only the
 * Pushgateway API's group writer calls it. `load` returns every stored group (restart).
 */
export interface GroupStore {
  load(): Promise<StoredGroup[]>;
  write(ops: GroupWrite[]): Promise<void>;
  /**
   * Shared stores only: calls `onChange`, in commit order, with the current value of every
   * group any replica (this one included) wrote after `load`, until the store closes.
   */
  follow?(onChange: (change: GroupChange) => void): void;
}

/** Groups changed in a shared store: `reset` (after a wipe) means `upserts` is every group there is. */
export interface GroupChange {
  upserts: StoredGroup[];
  removed: string[];
  reset?: boolean;
}

export interface Store {
  readonly kind: string;
  /**
   * How many commits the writer may have outstanding at once. Above 1 the store must
   * apply commits in the order they were called and honour `CommitBatch.epoch`; stores
   * that can refuse a commit for a conflict (shared stores) leave it at 1.
   */
  readonly pipeline?: number;
  /** Absent on adapters that do not persist Pushgateway groups: the Pushgateway API is then off. */
  readonly groups?: GroupStore;
  loadState(): Promise<{ jobs: Job[]; runs: Run[] }>;
  findEvents(eventIds: string[]): Promise<Map<string, { run_id: string }>>;
  getRuns(runIds: string[]): Promise<Map<string, Run>>;
  commit(batch: CommitBatch): Promise<void>;

  getRun(runId: string): Promise<Run | undefined>;
  listRuns(q: RunQuery): Promise<{ runs: Run[]; next_cursor?: string }>;
  listEvents(runId: string): Promise<StoredEvent[]>;
  /**
   * The first `head` and the newest `tail` events of a run, in order, and how many it has: the
   * status page's timeline of a long log without reading all of it. A store without it is read whole.
   */
  eventWindow?(runId: string, head: number, tail: number): Promise<{ events: StoredEvent[]; total: number }>;
  finishedRuns(q: { job_name?: string; since: number; until: number }): Promise<FinishedRun[]>;
  /**
   * The statistics of the runs `finishedRuns` would return, aggregated where they are stored
   * and off the event loop (SQLite: one job with 100k runs in a window was 300-700 ms of it).
   * Must equal `summarizeWindow(finishedRuns(q))`; a store without it is summarized that way.
   */
  runStats?(q: { job_name?: string; since: number; until: number }): Promise<WindowSummary>;
  /**
   * Id, job and end time of the runs in `states` that ended in [since, until), read off the event
   * loop where the store can (SQLite: the status page's failures of the last day, at 200k runs
   * a day, were ~0.8 s of finishedRuns on it). Must equal finishedRuns filtered by state.
   */
  endedRuns?(q: { since: number; until: number; states: readonly RunState[] }): Promise<{ run_id: string; job_name: string; ended_at: number }[]>;
  /**
   * End time and duration (seconds) of the newest `limit` succeeded runs of a job, newest first by
   * end, ties by duration, and equal (end, duration) pairs once, as the baseline window keeps them.
   */
  recentSuccesses(jobName: string, limit: number): Promise<Success[]>;
  /**
   * The same for every job at once, in one pass (start-up: one query per job was 2.1 s of a
   * 4.5 s start at 50k jobs). A store without it is asked job by job.
   */
  recentSuccessesOfAll?(limit: number): Promise<Map<string, Success[]>>;
  /** Every child run of these parents, in one pass (start-up; a store without it is asked parent by parent). */
  childRuns?(parentIds: readonly string[]): Promise<Run[]>;
  prune(q: { eventsBefore: number; runsBefore: number }): Promise<{ events: number; runs: number }>;
  /**
   * Deletes a job: its row, every run of it, their events, event ids and run-event chunks
   * (DELETE /api/v1/jobs/…). Ingest calls it with none of the agent's commits in flight.
   * Counts what went; a shared store adds the highest revision deleted (`RemoteChange.removedAt`).
   */
  forgetJob(jobName: string): Promise<{ runs: number; events: number; revision?: number }>;
  /** Throws when the store cannot be written (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Shared stores only: calls `onChange` with the snapshots other replicas commit, in
   * commit order, until `close`. Each snapshot is at least as new as anything this
   * replica read before; the caller drops ones older than what it holds (`isNewer`).
   */
  follow?(onChange: (change: RemoteChange) => void): void;
}

/**
 * Thrown by `commit` of a shared store (Redis) when another replica changed one of the
 * batch's runs or jobs, or logged one of its event ids, after this replica read them.
 * Nothing was written. `fresh` holds the current snapshots so the writer can install
 * them and reduce the batch again. `removed`: jobs of the batch another replica deleted
 * meanwhile (the commit waited for the deletion to end, or came after it): the writer
 * forgets them, as `RemoteChange.removed`, and reduces their events on nothing.
 */
export class StoreConflictError extends Error {
  constructor(
    readonly keys: string[],
    readonly fresh: { jobs: Job[]; runs: Run[] },
    readonly removed: string[] = [],
  ) {
    super(`commit conflict on ${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}`);
  }
}

/**
 * Thrown by `commit` of a shared store when the batch creates jobs and the jobs all
 * replicas already created plus the new ones exceed `maxJobs`. Nothing was written;
 * `jobCount` is the shared count, so the writer can refuse the right requests and retry.
 */
export class StoreJobLimitError extends Error {
  constructor(readonly jobCount: number) {
    super(`job limit reached in the shared store: ${jobCount} jobs exist`);
  }
}

/**
 * Shared stores stamp every run and job snapshot they read or write with its revision
 * under this symbol. A symbol, not a field: the reducer's spreads carry it to the next
 * snapshot (so a commit knows which revision it started from), while JSON, the API and
 * the SQLite adapter never see it. Revisions of one run or job only grow and are never
 * written twice, even after the store lost acknowledged writes (Redis: clock-based, not a
 * count); 0 means "not in the store".
 */
export const REVISION: unique symbol = Symbol('jobpulse.revision');
type Revisioned = { [REVISION]?: number };
export const revisionOf = (o: object): number => (o as Revisioned)[REVISION] ?? 0;
export const setRevision = (o: object, rev: number): void => {
  (o as Revisioned)[REVISION] = rev;
};
/** A succeeded run as learned baselines see it. */
export interface Success {
  ended_at: number;
  duration_seconds: number;
}

/** True when `incoming` is older than what is `held` (never for adapters without revisions). */
export const isStale = (incoming: object, held: object | undefined): boolean =>
  held !== undefined && revisionOf(held) > revisionOf(incoming);

/**
 * Committed snapshots another replica wrote, delivered by a shared store's change feed.
 * `removed`: jobs deleted on another replica, to forget before installing `jobs` and `runs`.
 * `removedAt`: the highest revision each deletion removed; a job held at a higher one was
 * started afresh after the deletion (by this replica, ahead of the feed) and is kept.
 */
export type RemoteChange = { jobs: Job[]; runs: Run[]; removed?: string[]; removedAt?: Record<string, number> };

/** Whether `held` is a job started afresh after a deletion that removed revisions up to `revision`. */
export const startedAfter = (held: object | undefined, revision: number | undefined): boolean =>
  held !== undefined && revision !== undefined && revisionOf(held) > revision;
