/**
 * The one door into the agent. Sources call `ingest(drafts)`; the promise resolves
 * only after the events are durable, with the run each one landed on.
 *
 * One writer, group commit: requests queue up while the previous transaction runs,
 * and the next flush takes all of them (up to `max_batch` events) into one
 * transaction. For each flush the writer
 *   1. resolves run ids (an event without `run_id` joins its job's unfinished run, or
 *      starts a new one), checks the job-count limit per request,
 *   2. drops events whose `event_id` is already in the log (a retried delivery),
 *   3. applies the pure lifecycle reducer to run and job snapshots in an overlay,
 *   4. commits events + snapshots in one store transaction,
 *   5. publishes the snapshots to the in-memory state and resolves the requests.
 * If the commit fails nothing is published and every request in the batch is rejected.
 * On a shared store (Redis) another replica may have changed a run or job this batch
 * reduced; the store then refuses the commit with StoreConflictError and fresh snapshots,
 * the writer installs them and reduces the whole batch again (optimistic concurrency).
 *
 * Pipelining (stores with `pipeline` > 1, i.e. SQLite's writer thread): while one batch
 * commits, the next is reduced on top of it. Its snapshots sit in an overlay that lookups
 * read before the published state, and it is committed in the same epoch; if the earlier
 * commit fails, the store refuses the later one too, and the writer starts a new epoch.
 *
 * Leased singleton sources (Spark poller, detectors on Redis) pass the lease's fence with
 * their drafts. A batch only ever holds requests of one fence (or none), so the store can
 * refuse a stale leader's batch (FencedWriteError) without failing anyone else's push.
 */
import { applyToJob, type Job } from '../domain/job.js';
import type { EventDraft, JobEvent } from '../domain/job-event.js';
import { apply } from '../domain/lifecycle.js';
import { isTerminal, type Run } from '../domain/run.js';
import { FencedWriteError, JobBeingDeletedError, NotFoundError, OverloadedError, StoreUnavailableError, TooManyJobsError } from '../domain/errors.js';
import type { Clock } from '../runtime/clock.js';
import { uuidv7 } from '../runtime/ids.js';
import type { Logger } from '../runtime/logger.js';
import type { JobState } from '../state/job-state.js';
import { isStale, revisionOf, startedAfter, StoreConflictError, StoreJobLimitError, type CommitBatch, type Fence, type Store } from '../store/store.js';

/** Reductions of one batch against a shared store before the batch is rejected. */
const MAX_CONFLICT_RETRIES = 30;

export interface IngestResult {
  event_id: string;
  job_name: string;
  run_id: string;
  /** `applied`: changed the run; `recorded`: logged but ignored by the lifecycle; `duplicate`: already in the log. */
  result: 'applied' | 'recorded' | 'duplicate';
  state?: Run['state'];
  reason?: string;
  /** The job the named run belongs to, when that is not the event's job (the event was not applied). */
  run_job_name?: string;
}

export interface IngestObserver {
  committed(events: number, seconds: number): void;
  /** `n` events of one source had this result in a settled batch. */
  event(source: string, result: IngestResult['result'], n: number): void;
  rejected(source: string, reason: string, events: number): void;
  storeError(): void;
  /** A leased source's batch refused because a newer leader holds the lease. */
  fenced?(lease: string, events: number): void;
}

export interface IngestOptions {
  /** Set by leased singleton sources: the commit is refused if a newer leader exists. */
  fence?: Fence;
  /**
   * `false`: resolve with an empty list, not one result per event, for callers that only
   * need to know the events are durable (sources). The results would otherwise be kept
   * while the batch commits, and outlive young-generation GCs with it.
   */
  results?: boolean;
}

export type IngestFn = (drafts: EventDraft[], opts?: IngestOptions) => Promise<IngestResult[]>;

export interface Ingest {
  ingest: IngestFn;
  /** Events waiting for the writer. */
  pending(): number;
  /** True while the queue is below its bound and the last commit succeeded. */
  healthy(): boolean;
  /** Stops taking new events and waits for queued ones to commit. Idempotent. */
  drain(): Promise<void>;
  /**
   * Deletes a job, its runs and their events (DELETE /api/v1/jobs/…): waits for the batches
   * in flight, holds the next ones while the store deletes, then forgets the job in memory.
   * Events of that job queued meanwhile start it afresh. NotFoundError for an unknown job.
   * With `onlyIf`, the job is kept (`kept: true`) unless it holds once the batches in flight
   * have settled.
   */
  forget(jobName: string, opts?: { onlyIf?: (job: Job) => boolean }): Promise<{ runs: number; events: number; kept?: true }>;
}

/** A batch sent to the store and not answered yet: what later batches reduce on top of. */
interface Overlay {
  runs: Map<string, Run>;
  jobs: Map<string, Job>;
  /** Client-chosen event ids of the batch → their run. */
  keys: Map<string, string>;
  newJobs: number;
  /** Overlays of an epoch that saw a failure are doomed: the store refuses them. */
  epoch: number;
}

interface Request {
  drafts: EventDraft[];
  fence?: Fence;
  /** False: the caller takes no per-event results. */
  results: boolean;
  resolve: (r: IngestResult[]) => void;
  reject: (e: Error) => void;
}

const NEW_RUN_EVENTS = new Set(['queued', 'started', 'submitted']);
/** Signs of life that open a running run when no run is open (lifecycle.ts: any event may open a run). */
const SIGNS_OF_LIFE = new Set(['progress', 'heartbeat']);
const RESULTS: readonly IngestResult['result'][] = ['applied', 'recorded', 'duplicate'];
const NO_DRAFTS: EventDraft[] = [];
/**
 * Below twice this many queued events a batch is not split for pipelining: per-commit costs
 * would dominate. Small on purpose: 64 clients sending one event each all landed in one batch
 * (they all wait on the same commit and come back together), so the event loop idled for every
 * commit's round trip (event-loop utilisation 0.90). Split from 32 events, the clients fall into
 * two cohorts that take turns; utilisation 0.96–0.99, and single-event pushes at 10k jobs read
 * +10% (median of six alternating pairs; bench/threads.sh push 10000 1). 4 was no better than 16.
 */
const MIN_SPLIT = 16;

export function createIngest(deps: {
  store: Store;
  state: JobState;
  clock: Clock;
  logger: Logger;
  maxBatch: number;
  maxPending: number;
  maxJobs: number;
  observer?: IngestObserver;
  newId?: () => string;
  /**
   * How long after a job's latest run ended a progress or heartbeat without run_id still
   * belongs to it (config `late_event_window`); default 0: such an event opens a new run.
   */
  lateEventWindow?: (jobName: string) => number;
}): Ingest {
  const { store, state, clock, logger, observer } = deps;
  const newId = deps.newId ?? (() => uuidv7());
  const queue: Request[] = [];
  let queued = 0;
  const depth = Math.max(1, store.pipeline ?? 1);
  /** A batch is between being taken from the queue and being sent to the store. */
  let reducing = false;
  const inflight = new Set<Promise<void>>();
  const overlays: Overlay[] = [];
  let epoch = 0;
  let scheduled = false;
  let lastCommitFailed = false;
  /** Jobs the shared store counted across replicas when it last refused a commit for limits.max_jobs. */
  let sharedJobCount = 0;
  // That count is stale once a job is deleted (here, or on another replica: followers learn it
  // as `removed`): forgotten then, the store counts afresh at the next refusal. Kept, a replica
  // that was once refused refused new jobs after deletions had freed their slots, until restarted.
  state.onChange(({ removed }) => {
    if (removed && removed.length > 0) sharedJobCount = 0;
  });
  let draining: Promise<void> | undefined;
  let drained: (() => void) | undefined;

  /**
   * Runs and jobs memory holds that the shared store no longer has (it lost acknowledged
   * writes, or the job was deleted on another replica): reduced as absent, so the retry
   * creates them afresh, and replaced by whatever the store next hands over for them, even
   * though memory's revision is higher.
   */
  const lostRuns = new Set<string>();
  const lostJobs = new Set<string>();
  const memRun = (id: string): Run | undefined => (lostRuns.size > 0 && lostRuns.has(id) ? undefined : state.getRun(id));
  const memJob = (name: string): Job | undefined => (lostJobs.size > 0 && lostJobs.has(name) ? undefined : state.getJob(name));

  /** Set while a job is being deleted: no batch is reduced or committed meanwhile. */
  let exclusive: Promise<void> | undefined;

  const schedule = (): void => {
    if (scheduled || reducing || inflight.size >= depth || exclusive) return;
    scheduled = true;
    // setImmediate lets every request already read off the sockets join this batch.
    setImmediate(() => {
      scheduled = false;
      flush();
    });
  };

  /**
   * Takes `reducing` and returns its release. Only the batch that holds it may clear it: an
   * earlier batch finishing while this one still waits for its lookups must not let a third
   * start reducing without this one's overlay.
   */
  const hold = (): (() => void) => {
    reducing = true;
    let holds = true;
    return () => {
      if (!holds) return;
      holds = false;
      reducing = false;
      if (queue.length > 0) schedule();
    };
  };

  function flush(): void {
    if (reducing || inflight.size >= depth || exclusive) return;
    if (queue.length === 0) {
      if (inflight.size === 0) drained?.();
      return;
    }
    const sent = hold();
    const batch: Request[] = [];
    let n = 0;
    const fence = queue[0]?.fence;
    // With nothing in flight, a pipelining store gets the queue in halves: the second half is
    // reduced while the first commits. Taking everything would leave one thread idle while the
    // other works whenever every client waits in this one batch (measured: ~40% idle each).
    const limit = depth > 1 && inflight.size === 0 && queued >= 2 * MIN_SPLIT ? Math.min(deps.maxBatch, Math.ceil(queued / 2)) : deps.maxBatch;
    while (queue.length > 0 && (n === 0 || (n + (queue[0] as Request).drafts.length <= limit && sameFence((queue[0] as Request).fence, fence)))) {
      const r = queue.shift() as Request;
      batch.push(r);
      n += r.drafts.length;
    }
    queued -= n;
    const done = process(batch, sent)
      .catch((err: unknown) => failBatch(batch, err))
      .finally(() => {
        sent();
        inflight.delete(done);
        if (queue.length > 0) schedule();
        else if (inflight.size === 0) drained?.();
      });
    inflight.add(done);
  }

  /** Reduces a batch again after a refused commit, holding `reducing` (depth 1: nobody else holds it). */
  async function retry(batch: Request[], attempt: number): Promise<void> {
    const sent = hold();
    try {
      await process(batch, sent, attempt);
    } finally {
      sent();
    }
  }

  /**
   * The newest overlay's value for a key. Doomed overlays are skipped: a batch reduced now is
   * committed in the new epoch and must not carry the effects of batches the store will refuse.
   */
  const fromOverlays = <T>(pick: (o: Overlay) => Map<string, T>, id: string): T | undefined => {
    for (let i = overlays.length - 1; i >= 0; i--) {
      const o = overlays[i] as Overlay;
      const v = o.epoch === epoch ? pick(o).get(id) : undefined;
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const overlayRun = (id: string): Run | undefined => fromOverlays((o) => o.runs, id);
  const overlayJob = (name: string): Job | undefined => fromOverlays((o) => o.jobs, name);
  const overlayKey = (id: string): string | undefined => fromOverlays((o) => o.keys, id);

  /** `sent` is called once the batch is in the store's hands (or given up): the next may be reduced. */
  async function process(batch: Request[], sent: () => void, attempt = 0): Promise<void> {
    const started = performance.now();
    const now = clock.now();
    const runs = new Map<string, Run>();
    const jobs = new Map<string, Job>();
    const prevRuns = new Map<string, Run | undefined>();

    // Runs named explicitly that are not in memory (finished long ago) come from the store.
    const missing = new Set<string>();
    const clientIds: string[] = [];
    for (const req of batch)
      for (const d of req.drafts) {
        if (d.run_id !== undefined && !memRun(d.run_id) && !overlayRun(d.run_id)) missing.add(d.run_id);
        if (d.event_id !== undefined) clientIds.push(d.event_id);
      }
    let fromStore: Map<string, Run>;
    let seen: Map<string, { run_id: string }>;
    try {
      fromStore = missing.size > 0 ? await store.getRuns([...missing]) : new Map();
      seen = clientIds.length > 0 ? await store.findEvents(clientIds) : new Map();
    } catch (err) {
      sent();
      return failBatch(batch, err);
    }

    const runOf = (id: string): Run | undefined => runs.get(id) ?? overlayRun(id) ?? memRun(id) ?? fromStore.get(id);
    const jobOf = (name: string): Job | undefined => jobs.get(name) ?? overlayJob(name) ?? memJob(name);
    let pendingNewJobs = 0;
    for (const o of overlays) if (o.epoch === epoch) pendingNewJobs += o.newJobs;
    const activeRunOf = (name: string): Run | undefined => {
      const job = jobOf(name);
      const latest = job ? runOf(job.latest_run_id) : undefined;
      return latest && !isTerminal(latest.state) ? latest : undefined;
    };

    const records: CommitBatch['events'] = [];
    const answers: (IngestResult[] | Error)[] = [];
    let newJobs = 0;
    const batchIds = new Map<string, string>();
    // Counted only once the batch is settled, so a reduction retried after a conflict counts once.
    // Per source, counts by result: no key string built per event.
    const seenEvents = new Map<string, Record<IngestResult['result'], number>>();
    const count = (source: string, result: IngestResult['result']): void => {
      let c = seenEvents.get(source);
      if (!c) seenEvents.set(source, (c = { applied: 0, recorded: 0, duplicate: 0 }));
      c[result] += 1;
    };
    const rejectedJobs: [string, number][] = [];

    for (const req of batch) {
      const unknown = new Set<string>();
      for (const d of req.drafts) if (!jobOf(d.job_name)) unknown.add(d.job_name);
      if (unknown.size > 0 && Math.max(state.jobCount, sharedJobCount) + pendingNewJobs + newJobs + unknown.size > deps.maxJobs) {
        rejectedJobs.push([req.drafts[0]?.source ?? 'unknown', req.drafts.length]);
        answers.push(
          new TooManyJobsError(
            `job limit reached: ${deps.maxJobs} jobs (limits.max_jobs); new job ${JSON.stringify([...unknown][0])} refused`,
          ),
        );
        continue;
      }
      newJobs += unknown.size;
      const results: IngestResult[] = [];
      const keep = req.results;
      for (const d of req.drafts) {
        const earlier = d.event_id !== undefined ? (batchIds.get(d.event_id) ?? overlayKey(d.event_id)) : undefined;
        const dup = d.event_id !== undefined ? (seen.get(d.event_id) ?? (earlier !== undefined ? { run_id: earlier } : undefined)) : undefined;
        if (dup) {
          if (keep) results.push({ event_id: d.event_id as string, job_name: d.job_name, run_id: dup.run_id, result: 'duplicate' });
          count(d.source, 'duplicate');
          continue;
        }
        const event = stamp(d, now);
        // Only ids a client chose can come twice; ids assigned here are unique.
        if (d.event_id !== undefined) batchIds.set(event.event_id, event.run_id);
        const prev = runOf(event.run_id);
        const out = apply(prev, event);
        if (out.applied) {
          if (!prevRuns.has(event.run_id)) prevRuns.set(event.run_id, prev);
          runs.set(event.run_id, out.run);
          jobs.set(event.job_name, applyToJob(jobOf(event.job_name), prev, out.run, event));
          records.push({ event, applied: true, keyed: d.event_id !== undefined });
          if (keep) results.push({ event_id: event.event_id, job_name: event.job_name, run_id: event.run_id, result: 'applied', state: out.run.state });
        } else {
          records.push({ event, applied: false, reason: out.reason, keyed: d.event_id !== undefined });
          if (keep)
            results.push({
              event_id: event.event_id,
              job_name: event.job_name,
              run_id: event.run_id,
              result: 'recorded',
              reason: out.reason,
              ...(prev ? { state: prev.state } : {}),
              ...(out.owner !== undefined ? { run_job_name: out.owner } : {}),
            });
        }
        count(event.source, out.applied ? 'applied' : 'recorded');
      }
      answers.push(results);
    }

    /**
     * The run a late sign of life belongs to: a heartbeat from a job's thread that outlived the
     * run by a moment opened a new running run, which went stuck and paged for a job that had
     * finished. Within late_event_window of the end it goes to the ended run (recorded, not
     * applied); later, or from before any run, it opens a run as before.
     */
    function lateFor(d: EventDraft, at: number): string | undefined {
      if (!SIGNS_OF_LIFE.has(d.event) || !deps.lateEventWindow) return undefined;
      const job = jobOf(d.job_name);
      const latest = job ? runOf(job.latest_run_id) : undefined;
      if (latest?.ended_at === undefined || !isTerminal(latest.state)) return undefined;
      return (d.timestamp ?? at) - latest.ended_at < deps.lateEventWindow(d.job_name) ? latest.run_id : undefined;
    }

    function stamp(d: EventDraft, at: number): JobEvent {
      let runId = d.run_id;
      if (runId === undefined) {
        const active = activeRunOf(d.job_name);
        // `queued` always opens a new run; `started`/`submitted` join a run still waiting to start.
        const joins = active && (d.event === 'queued' ? false : NEW_RUN_EVENTS.has(d.event) ? active.state !== 'running' : true);
        runId = joins && active ? active.run_id : (active ? undefined : lateFor(d, at)) ?? newId();
      }
      // Object.assign onto an empty literal, then plain stores: on Node 20 a spread with added
      // properties leaves V8's fast clone path, ~4 µs per event and slow reads of the copy
      // after; Object.assign ~0.1 µs (bench/micro/clone.mjs).
      const e = Object.assign({}, d) as JobEvent;
      e.event_id = d.event_id ?? newId();
      e.run_id = runId;
      e.timestamp = d.timestamp ?? at;
      e.received_at = at;
      return e;
    }

    // Nothing below an await holds the events themselves: while a batch commits, whatever it
    // keeps alive is copied by every young-generation GC (at 64 connections of 100-event
    // pushes that copying was a quarter of the event loop).
    const recordCount = records.length;
    let transitions: [Run, Run['state'] | undefined][] = [];
    if (recordCount > 0) {
      const batchEpoch = epoch;
      const overlay: Overlay = { runs, jobs, keys: batchIds, newJobs, epoch: batchEpoch };
      overlays.push(overlay);
      try {
        const fence = batch[0]?.fence;
        const committing = store.commit({
          events: records,
          runs: [...runs.values()],
          jobs: [...jobs.values()],
          maxJobs: deps.maxJobs,
          ...(fence ? { fence } : {}),
          ...(depth > 1 ? { epoch: batchEpoch } : {}),
        });
        // A pipelining store never asks for the batch again (only shared stores retry): the
        // drafts can go now rather than when the batch is answered.
        if (depth > 1) for (const req of batch) req.drafts = NO_DRAFTS;
        // Stores read the events before commit returns. This suspended function keeps its
        // locals alive until the store answers, and everything alive then survives young-
        // generation GCs into the old generation: the events and the runs they replaced go now.
        records.length = 0;
        transitions = transitionsOf(runs, prevRuns);
        prevRuns.clear();
        sent();
        await committing;
      } catch (err) {
        overlays.splice(overlays.indexOf(overlay), 1);
        // Batches reduced on top of this one fail with it; the next one starts afresh.
        if (batchEpoch === epoch) epoch += 1;
        if (err instanceof FencedWriteError) return fenceBatch(batch, err, recordCount);
        if (err instanceof StoreJobLimitError && attempt < MAX_CONFLICT_RETRIES) {
          // Other replicas created jobs this one has not seen yet: refuse by the shared count.
          sharedJobCount = Math.max(sharedJobCount, err.jobCount);
          // Retries happen on shared stores only, which do not pipeline: nothing else is reducing.
          return retry(batch, attempt + 1);
        }
        if (err instanceof StoreConflictError && attempt < MAX_CONFLICT_RETRIES) {
          logger.debug('commit conflict; reducing the batch again on fresh snapshots', { keys: err.keys.slice(0, 5), attempt });
          if (err.removed.length > 0) forgetRemoved(runs, jobs, err);
          adoptFresh(runs, jobs, err.fresh);
          // Jittered, growing backoff so two replicas hammering one run stop colliding in lockstep.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
          return retry(batch, attempt + 1);
        }
        return failBatch(batch, err);
      }
      lastCommitFailed = false;
      publishNewer([...jobs.values()], [...runs.values()]);
      overlays.splice(overlays.indexOf(overlay), 1);
      logTransitions(transitions);
    } else sent();
    // One counter update per (source, result) and batch: label lookups per event showed in profiles.
    seenEvents.forEach((c, source) => {
      for (const result of RESULTS) if (c[result] > 0) observer?.event(source, result, c[result]);
    });
    for (const [source, n] of rejectedJobs) observer?.rejected(source, 'too_many_jobs', n);
    observer?.committed(recordCount, (performance.now() - started) / 1000);
    batch.forEach((req, i) => {
      const a = answers[i];
      if (a instanceof Error) req.reject(a);
      else req.resolve(a as IngestResult[]);
    });
  }

  /**
   * Publishes snapshots unless memory already holds a newer revision (another replica's, via
   * follow). A lost run or job takes whatever comes: memory's revision means nothing for it.
   */
  function publishNewer(js: Job[], rs: Run[]): void {
    state.publish(
      js.filter((j) => (lostJobs.size > 0 && lostJobs.delete(j.job_name)) || !isStale(j, state.getJob(j.job_name))),
      rs.filter((r) => (lostRuns.size > 0 && lostRuns.delete(r.run_id)) || !isStale(r, state.getRun(r.run_id))),
    );
  }

  /**
   * After a conflict, what the store holds is the truth. Another replica's commit leaves the
   * store newer than the revision the batch was reduced from (the usual race: publishNewer).
   * Older than that, or gone while the batch had read it, means Redis lost acknowledged
   * writes (a restart without persistence, a failover that dropped the last writes); keeping
   * memory's revision would have every retry refused by the commit script for good.
   */
  function adoptFresh(runs: Map<string, Run>, jobs: Map<string, Job>, fresh: { jobs: Job[]; runs: Run[] }): void {
    const lost: string[] = [];
    /**
     * The snapshots of `mine` the store holds older (returned: memory must take them), or not
     * at all (marked in `lostSet`); `freshByKey` keeps only the rest, for publishNewer.
     */
    const behind = <T extends Run | Job>(kind: string, mine: Map<string, T>, freshByKey: Map<string, T>, lostSet: Set<string>): T[] => {
      const out: T[] = [];
      mine.forEach((m, key) => {
        const f = freshByKey.get(key);
        if (f ? revisionOf(f) >= revisionOf(m) : revisionOf(m) === 0) return;
        lost.push(`${kind}:${key}@${revisionOf(m)}→${f ? revisionOf(f) : 'absent'}`);
        lostSet.delete(key);
        if (f) {
          out.push(f);
          freshByKey.delete(key);
        } else lostSet.add(key);
      });
      return out;
    };
    const freshRuns = new Map(fresh.runs.map((r) => [r.run_id, r]));
    const freshJobs = new Map(fresh.jobs.map((j) => [j.job_name, j]));
    const behindRuns = behind('run', runs, freshRuns, lostRuns);
    const behindJobs = behind('job', jobs, freshJobs, lostJobs);
    if (lost.length > 0) {
      logger.warn('the store holds older runs or jobs than this replica read from it: acknowledged writes were lost (Redis restarted without persistence, or a failover); continuing from what it holds', {
        count: lost.length,
        keys: lost.slice(0, 10),
      });
      state.publish(behindJobs, behindRuns);
    }
    publishNewer([...freshJobs.values()], [...freshRuns.values()]);
  }

  /**
   * Jobs of the batch another replica deleted while it waited to commit: memory forgets them
   * (as it would on the change feed's `removed`, which may come later), and the batch's
   * snapshots of them are dropped, so the batch is reduced again on nothing (the job starts
   * afresh) and their absence from the store is not taken for lost writes.
   */
  function forgetRemoved(runs: Map<string, Run>, jobs: Map<string, Job>, err: StoreConflictError): void {
    const gone = new Set(err.removed);
    for (const name of gone) {
      const fresh = err.fresh.jobs.find((j) => j.job_name === name);
      const held = state.getJob(name);
      // Started afresh by another replica since, and already followed here: keep that one.
      if (!(fresh && held && revisionOf(held) >= revisionOf(fresh))) state.remove(name);
      jobs.delete(name);
    }
    runs.forEach((r, id) => {
      if (gone.has(r.job_name)) runs.delete(id);
    });
  }

  /** Runs whose state the batch changed, with the state before: one log line each once committed. */
  function transitionsOf(runs: Map<string, Run>, prev: Map<string, Run | undefined>): [Run, Run['state'] | undefined][] {
    const out: [Run, Run['state'] | undefined][] = [];
    // forEach, not for-of over entries: no [key, value] array per run.
    runs.forEach((r, id) => {
      const before = prev.get(id)?.state;
      if (before !== r.state) out.push([r, before]);
    });
    return out;
  }

  function logTransitions(transitions: [Run, Run['state'] | undefined][]): void {
    for (const [r, before] of transitions)
      logger.info('run state changed', { job_name: r.job_name, run_id: r.run_id, source: r.source, from: before ?? 'new', to: r.state });
  }

  function fenceBatch(batch: Request[], err: FencedWriteError, events: number): void {
    observer?.fenced?.(err.lease, events);
    logger.warn('write of a stale lease holder refused: another replica leads', { lease: err.lease, token: err.token, current: err.current, events });
    for (const r of batch) r.reject(err);
  }

  function failBatch(batch: Request[], err: unknown): void {
    lastCommitFailed = true;
    observer?.storeError();
    logger.error('store commit failed; batch rejected', { err, requests: batch.length });
    // The Redis store already says "store unavailable: …" for a lost connection.
    const e = err instanceof StoreUnavailableError ? err : new StoreUnavailableError(`store unavailable: ${(err as Error)?.message ?? String(err)}`);
    for (const r of batch) r.reject(e);
  }

  /**
   * A deletion runs alone: batches in flight settle first (their overlays and commits concern
   * the job as much as any), the store deletes, and memory forgets the job before the next
   * batch is reduced, so no batch ever reduces on top of a job the store no longer has.
   */
  async function forget(jobName: string, opts?: { onlyIf?: (job: Job) => boolean }): Promise<{ runs: number; events: number; kept?: true }> {
    while (exclusive) await exclusive;
    let release: () => void = () => undefined;
    exclusive = new Promise<void>((r) => (release = r));
    try {
      // A batch is in `inflight` from the moment it starts reducing (flush adds it at once), and
      // its promise never rejects: waiting for the set to empty is waiting for both.
      while (inflight.size > 0) await Promise.race(inflight);
      const job = state.getJob(jobName);
      if (!job) throw new NotFoundError(`unknown job ${JSON.stringify(jobName)}`);
      // Retention's idle deletions: a job listed idle may have reported since, acknowledged in a
      // batch just settled (deleted anyway, its 200 was a lie).
      if (opts?.onlyIf && !opts.onlyIf(job)) return { runs: 0, events: 0, kept: true };
      let gone: { runs: number; events: number; revision?: number };
      try {
        gone = await store.forgetJob(jobName);
      } catch (err) {
        // Deleted meanwhile by another replica: gone from the store, so from memory too (its
        // `removed` would reach this replica through the change feed a moment later anyway).
        // Not while that deletion is under way: it sends `removed` when it is done, and one cut
        // short leaves the job in the store; forgotten here, it was missing from this replica
        // only, and the DELETE the README asks for next got 404 'unknown job' here.
        if (err instanceof NotFoundError && !(err instanceof JobBeingDeletedError)) state.remove(jobName);
        throw err;
      }
      // Unless another replica started it afresh since and this one followed that already.
      if (!startedAfter(state.getJob(jobName), gone.revision)) state.remove(jobName);
      logger.info('job deleted', { job_name: jobName, runs: gone.runs, events: gone.events });
      return { runs: gone.runs, events: gone.events };
    } finally {
      exclusive = undefined;
      release();
      if (queue.length > 0) schedule();
    }
  }

  return {
    ingest(drafts, opts) {
      if (draining) return Promise.reject(new StoreUnavailableError('agent is shutting down'));
      if (drafts.length === 0) return Promise.resolve([]);
      if (queued + drafts.length > deps.maxPending) {
        observer?.rejected(drafts[0]?.source ?? 'unknown', 'overloaded', drafts.length);
        return Promise.reject(new OverloadedError(`writer saturated: ${queued} events waiting (store.max_pending ${deps.maxPending})`));
      }
      return new Promise<IngestResult[]>((resolve, reject) => {
        queue.push({ drafts, resolve, reject, results: opts?.results !== false, ...(opts?.fence ? { fence: opts.fence } : {}) });
        queued += drafts.length;
        schedule();
      });
    },
    pending: () => queued,
    healthy: () => !lastCommitFailed && queued < deps.maxPending,
    drain() {
      draining ??= new Promise<void>((resolve) => {
        drained = resolve;
        if (queue.length === 0 && inflight.size === 0) resolve();
        else schedule();
      });
      return draining;
    },
    forget,
  };
}

const sameFence = (a: Fence | undefined, b: Fence | undefined): boolean => a === b || (a !== undefined && b !== undefined && a.lease === b.lease && a.token === b.token);
