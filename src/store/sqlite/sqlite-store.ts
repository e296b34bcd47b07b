/**
 * The embedded default Store on better-sqlite3. Statements are prepared once. The
 * driver is synchronous; methods return promises only to satisfy the Store contract
 * shared with the Redis adapter.
 *
 * A commit writes only the events (one row each): that is what makes it durable. Run
 * and job rows are a materialized view written behind, coalesced per job, in small
 * time-boxed slices (src/store/sqlite/dirty-snapshots.ts); queries that read the rows
 * write the slices they need first, so readers never see the lag. After a crash,
 * `open` reduces the events the rows had not caught up with (src/store/sqlite/replay-tail.ts).
 * Writes run on the writer thread (src/store/sqlite/writer-thread.ts): this module builds
 * the statements' parameters and awaits the commit; reads use this thread's connection.
 * WAL checkpoints run on a third thread (src/store/sqlite/checkpointer.ts).
 */
import type { Job } from '../../domain/job.js';
import { isTerminal, type Run, type RunState } from '../../domain/run.js';
import type { CommitBatch, FinishedRun, RunQuery, RunStats, Store, Success } from '../store.js';
import { createSqliteGroupLog, prepareGroupLogStatements } from './group-log.js';
import { cacheKib, openDatabase, type Db } from './open-database.js';
import type { Durability } from '../../config/schema.js';
import { decodeCursor, encodeCursor } from '../run-cursor.js';
import { startCheckpointer, type Checkpointer, type Read } from './checkpointer.js';
import { DirtySnapshots, forEachChunk, type DirtyEntry } from './dirty-snapshots.js';
import { UNSUCCESSFUL } from './migrations/008-unsuccessful-runs-index.js';
import { replayTail } from './replay-tail.js';
import { NO_RUNS_ROW, runStatsOfRow, runStatsSql, type RunStatsRow } from './run-stats-sql.js';
import { chunkRow, eventOfRow, INSERT_CHUNK_SQL, jobRow, runRow, UPSERT_JOB_SQL, UPSERT_RUN_SQL, type EventRow } from './rows.js';
import { StatementSet, startWriterThread, type Op } from './writer-thread.js';

/** How often, and for how long at most per slice, the event loop builds rows to write behind (the writer thread writes them). */
const FLUSH_EVERY_MS = 20;
const FLUSH_BUDGET_MS = 4;
/**
 * Rows are written once their job has been dirty this long, so a busy job's events
 * coalesce into one row write per interval, or once the log tail behind them is longer than
 * MAX_TAIL_EVENTS, whichever comes first (the tail is what a crash leaves to reduce at the
 * next start: ~6 µs per event on top of ~1 s, measured as the time to ready after kill -9).
 *
 * History: 1 s → 4 s (with single-event pushes spread over 10k jobs each job saw ~1.5 events
 * per second, so nearly every event paid for its own run and job JSON, 1.6 KB per event in an
 * allocation profile; 19.3k vs 16.6k pushes/s). 4 s → 12 s with the tail bound (2026-12-07):
 * alternating 20 s runs of `bench/threads.sh push 10000 1` were faster in 5 of 8 pairs, within
 * this VM's noise, but the writer thread's CPU per push fell in every pair (8.0–8.5 → 6.7–7.6
 * µs). The tail bound caps what a restart replays whatever the push rate (before, 4 s of it):
 * under batched pushes at ~80k events/s the tail stays under ~215k events and a restart after
 * kill -9 is ready in 2.4 s (1.8–2.1 s with the 4 s interval; 4.4 s with a 400k bound).
 */
const FLUSH_AFTER_MS = 12_000;
const MAX_TAIL_EVENTS = 200_000;
/**
 * Above this many run snapshots held, the oldest entries are written whatever their age:
 * entries coalesce per job, but a stream of new runs (a Kafka topic where every message is
 * a run) holds one snapshot per run for the whole delay, ~1 KB each.
 */
const MAX_DIRTY_RUNS = 20_000;


/** Entries taken from the dirty set and their rows, built. */
interface RowSlice {
  entries: DirtyEntry[];
  ops: Op[];
  /** The budget ended the slice: more of what it wanted is still dirty. */
  more: boolean;
}

export interface SqliteStoreOptions {
  path: string;
  durability: Durability;
  /** SQLite page cache per connection (the writer's and the readers'), in MiB; default 2. */
  cacheMb?: number;
  /** Off only in tests that need the rows to lag (crash recovery). */
  flushBehind?: boolean;
  /** Run snapshots held behind the log before the oldest are written regardless of age (default MAX_DIRTY_RUNS). */
  maxDirtyRuns?: number;
  /** Log events behind the oldest row before it is written regardless of age (default MAX_TAIL_EVENTS). */
  maxTailEvents?: number;
  /** Events (seqs) and finished runs deleted per prune transaction (defaults PRUNE_SLICE, PRUNE_RUNS; tests make them small). */
  pruneSlice?: number;
  pruneRuns?: number;
}

/** Above this many ids a lookup is one json_each statement instead of one statement per id. */
const BULK_LOOKUP = 8;
/** Events (seqs) pruned per transaction, and finished runs: each a few ms on the writer. */
const PRUNE_SLICE = 5_000;
const PRUNE_RUNS = 2_000;
/** SQL: the run `alias` is not its job's latest run (kept by retention whatever its age). */
const NOT_LATEST = (alias: string): string => `NOT EXISTS (SELECT 1 FROM jobs j WHERE j.job_name = ${alias}.job_name AND json_extract(j.data, '$.latest_run_id') = ${alias}.run_id)`;

export function createSqliteStore(opts: SqliteStoreOptions): Store {
  if (opts.path === ':memory:') throw new Error('the SQLite store needs a file: its writer thread opens a connection of its own');
  const db: Db = openDatabase(opts.path, opts.durability, opts.cacheMb);

  // Statements the writer thread runs; ops name them by index.
  const W = new StatementSet();
  const insertEvent = W.add('INSERT INTO events (seq, run_id, received_at, applied, reason, data) VALUES (?, ?, ?, ?, ?, ?)');
  const insertChunk = W.add(INSERT_CHUNK_SQL);
  const insertKey = W.add('INSERT INTO event_keys (event_id, run_id, seq) VALUES (?, ?, ?)');
  const upsertRun = W.add(UPSERT_RUN_SQL);
  const upsertJob = W.add(UPSERT_JOB_SQL);
  const markJob = W.add('UPDATE jobs SET snap_seq = max(snap_seq, ?) WHERE job_name = ?');
  const setReplayFrom = W.add(`UPDATE store_meta SET value = ? WHERE key = 'replay_from'`);
  // A deleted job (forgetJob): its runs' events through their run_events chunks (event_keys by
  // the events' ids, like prune), then the chunks, the runs, the job row; one transaction.
  const RUNS_OF_JOB = 'SELECT run_id FROM runs WHERE job_name = ?';
  const SEQS_OF_JOB = `SELECT j.value FROM run_events r, json_each(r.seqs) j WHERE r.run_id IN (${RUNS_OF_JOB})`;
  const forgetStatements = [
    W.add(`DELETE FROM event_keys WHERE event_id IN (SELECT json_extract(data, '$.event_id') FROM events WHERE seq IN (${SEQS_OF_JOB})) AND run_id IN (${RUNS_OF_JOB})`),
    W.add(`DELETE FROM events WHERE seq IN (${SEQS_OF_JOB}) AND run_id IN (${RUNS_OF_JOB})`),
    W.add(`DELETE FROM run_events WHERE run_id IN (${RUNS_OF_JOB})`),
    W.add('DELETE FROM runs WHERE job_name = ?'),
    W.add('DELETE FROM jobs WHERE job_name = ?'),
  ] as const;
  // Readiness writes: a read answered while the disk was full and every commit failed.
  const touchProbe = W.add(`INSERT INTO store_meta (key, value) VALUES ('write_probe', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  // Pruning, a slice of the log (seq > ? AND seq <= ?) per transaction. event_keys and
  // run_events have no index on seq: their rows are found through the slice's events (an
  // event's id and run), by primary key, not by scanning the whole table.
  const deleteKeysOfSlice = W.add(`DELETE FROM event_keys WHERE event_id IN (SELECT json_extract(data, '$.event_id') FROM events WHERE seq > ? AND seq <= ?) AND seq <= ?`);
  const deleteChunksOfSlice = W.add('DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM events WHERE seq > ? AND seq <= ?) AND last_seq <= ?');
  const deleteEventsOfSlice = W.add('DELETE FROM events WHERE seq > ? AND seq <= ?');
  // Finished runs picked on this thread (selectPrunableRuns), checked again where they are deleted.
  const deleteRunsPicked = W.add(
    `DELETE FROM runs WHERE run_id IN (SELECT value FROM json_each(?)) AND ended_at IS NOT NULL AND ended_at < ?
       AND ${NOT_LATEST('runs')}`,
  );
  const groupStatements = prepareGroupLogStatements(W);

  const selectReplayFrom = db.prepare(`SELECT value FROM store_meta WHERE key = 'replay_from'`);
  const selectMaxSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events');
  const selectPrunableRuns = db.prepare(
    // runs_by_end holds (ended_at, rowid): the cursor walks it in order, ties included.
    `SELECT run_id, ended_at, rowid AS rid FROM runs r WHERE ended_at IS NOT NULL AND ended_at < ? AND (ended_at, rowid) > (?, ?)
       AND ${NOT_LATEST('r')}
     ORDER BY ended_at, rowid LIMIT ?`,
  );
  const selectJobs = db.prepare('SELECT data FROM jobs');
  const selectUnfinished = db.prepare('SELECT data FROM runs WHERE ended_at IS NULL');
  const selectRun = db.prepare('SELECT data FROM runs WHERE run_id = ?');
  const selectEventRun = db.prepare('SELECT run_id FROM event_keys WHERE event_id = ?');
  // Many ids (a Kafka batch, a batched push) in one statement: per-id point lookups were 25% of
  // the writer's CPU in bench/kafka.mjs (1,250-event batches of new runs); one json_each join
  // over the same indexes cuts that CPU by about half. Few ids keep the point lookup.
  const selectEventRuns = db.prepare('SELECT event_id, run_id FROM event_keys WHERE event_id IN (SELECT value FROM json_each(?))');
  const selectRunsById = db.prepare('SELECT data FROM runs WHERE run_id IN (SELECT value FROM json_each(?))');
  // run_id is checked again: a seq list is only ever the run's own, but the row says so.
  const selectEvents = db.prepare(
    'SELECT * FROM events WHERE seq IN (SELECT j.value FROM run_events r, json_each(r.seqs) j WHERE r.run_id = ?) AND run_id = ? ORDER BY seq',
  );
  const RUN_SEQS = 'SELECT j.value FROM run_events r, json_each(r.seqs) j WHERE r.run_id = ?';
  const countEvents = db.prepare(`SELECT count(*) AS n FROM events WHERE seq IN (${RUN_SEQS}) AND run_id = ?`);
  const selectFirstEvents = db.prepare(`SELECT * FROM events WHERE seq IN (${RUN_SEQS}) AND run_id = ? ORDER BY seq LIMIT ?`);
  const selectLastEvents = db.prepare(`SELECT * FROM events WHERE seq IN (${RUN_SEQS}) AND run_id = ? ORDER BY seq DESC LIMIT ?`);
  // The window the learned baselines keep in memory (history/baselines.ts): newest by end, equal
  // (end, duration) pairs once. Read newest-created with the pairs repeated, it held other
  // successes than memory had, and job_expected_duration_seconds changed across a restart.
  const selectRecentSuccesses = db.prepare(
    `SELECT DISTINCT ended_at, duration_seconds FROM runs WHERE job_name = ? AND state = 'succeeded' AND duration_seconds IS NOT NULL
     ORDER BY ended_at DESC, duration_seconds DESC LIMIT ?`,
  );
  const selectChildrenOf = db.prepare('SELECT data FROM runs WHERE parent_run_id IN (SELECT value FROM json_each(?))');
  const selectAllRecentSuccesses = db.prepare(
    `SELECT job_name, ended_at, duration_seconds FROM (
       SELECT job_name, ended_at, duration_seconds, row_number() OVER (PARTITION BY job_name ORDER BY ended_at DESC, duration_seconds DESC) AS n
       FROM (SELECT DISTINCT job_name, ended_at, duration_seconds FROM runs WHERE state = 'succeeded' AND duration_seconds IS NOT NULL))
     WHERE n <= ? ORDER BY job_name, n`,
  );
  const firstSeqFrom = db.prepare('SELECT seq, received_at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1');
  const selectMinSeq = db.prepare('SELECT COALESCE(MIN(seq), 0) AS s FROM events');

  const dirty = new DirtySnapshots();
  // Seqs are assigned here, not by SQLite: a log pruned empty would restart its rowids at
  // 1, below the snap_seq of rows already written. replay_from never goes back.
  let lastSeq = Math.max((selectMaxSeq.get() as { s: number }).s, (selectReplayFrom.get() as { value: number }).value);

  /**
   * Row writes run one at a time, and each takes its entries only when its turn comes: a
   * failed write is put back before the next one looks, so a job's rows are never written
   * out of order (an older snapshot put back after a newer one was written).
   */
  let rowWrites: Promise<void> = Promise.resolve();
  /**
   * First seq of each event commit sent to the writer whose snapshots are not in `dirty`
   * yet: a row write must not move replay_from past them, or a crash right after both
   * commits would leave those events in the log and in no row, and skipped at replay.
   */
  const unreflected = new Set<number>();
  let slicePending = false;
  let closed = false;
  /** One job's rows: its runs, their run_events chunks, the job row (or its snap_seq). */
  const entryOps = (e: DirtyEntry, ops: Op[]): void => {
    for (const r of e.runs.values()) ops.push([upsertRun, ...runRow(r)]);
    forEachChunk(e, (id, seqs) => ops.push([insertChunk, ...chunkRow(id, seqs)]));
    ops.push(e.job ? [upsertJob, ...jobRow(e.job, e.lastSeq)] : [markJob, e.lastSeq, e.job_name]);
  };
  /**
   * Takes dirty entries, oldest first, while `want` accepts them, and builds their rows as it
   * goes, until FLUSH_BUDGET_MS have passed (at least one entry). The clock is read after
   * each entry's rows are built, not while picking: picking is nearly free, and a budget that
   * bounded only the picking let one slice build the rows of everything ripe at once (50k
   * jobs at the end of a Kafka backlog: 220-350 ms, over a second in the agent with its GC).
   * `more` says the budget, not `want`, ended the slice.
   */
  const takeSlice = (want: (e: DirtyEntry) => boolean): RowSlice => {
    const until = performance.now() + FLUSH_BUDGET_MS;
    const ops: Op[] = [];
    let more = false;
    const entries = dirty.take((n, e) => {
      if (!want(e)) return false;
      if (n > 0 && performance.now() >= until) {
        more = true;
        return false;
      }
      entryOps(e, ops);
      return true;
    });
    return { entries, ops, more };
  };
  const sliceOf = (entries: DirtyEntry[]): RowSlice => {
    const ops: Op[] = [];
    for (const e of entries) entryOps(e, ops);
    return { entries, ops, more: false };
  };
  /**
   * Sends a slice's rows to the writer. Kept out of the async function that awaits the
   * answer: a suspended function keeps its locals, and the rows' JSON would survive young-
   * generation GCs into the old generation while the writer works.
   */
  const sendRows = (ops: Op[]): Promise<unknown> => {
    // Everything after replay_from may be missing from the rows: what is still dirty, and
    // events committed (or being committed) whose snapshots have not reached `dirty`.
    let from = dirty.oldestSeq() ?? lastSeq + 1;
    for (const f of unreflected) if (f < from) from = f;
    ops.push([setReplayFrom, from - 1]);
    return writer.run(ops);
  };
  /** Resolves with whether the slice was cut short by its budget (more of what it wanted waits). */
  const flushRows = (select: () => RowSlice): Promise<boolean> => {
    const p = rowWrites.then(async () => {
      const slice = select();
      if (slice.entries.length === 0) return false;
      try {
        await sendRows(slice.ops);
      } catch (err) {
        dirty.putBack(slice.entries);
        throw err;
      }
      dirty.settle(slice.entries);
      return slice.more;
    });
    rowWrites = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  };
  /**
   * Writes every row dirty now, slice by slice, so the event loop serves requests between
   * slices. A read that needs rows waits for the writes queued before its own, so it also sees
   * rows another reader's write took out of the dirty set. Entries dirtied after the call are
   * left to later flushes: under a steady stream they would keep the caller waiting forever.
   */
  const flushAll = async (): Promise<void> => {
    const bound = lastSeq;
    while (await flushRows(() => takeSlice((e) => e.firstSeq <= bound)));
  };
  const flushJob = (jobName: string): Promise<boolean> =>
    flushRows(() => {
      const e = dirty.takeJob(jobName);
      return sliceOf(e ? [e] : []);
    });
  const flushSlice = (): void => {
    slicePending = true;
    flushRows(() => {
      const ripe = performance.now() - FLUSH_AFTER_MS;
      let excess = dirty.runCount - (opts.maxDirtyRuns ?? MAX_DIRTY_RUNS);
      // Entries go oldest first, so their firstSeq ascends: the bound stops where it should.
      const tailFloor = lastSeq - (opts.maxTailEvents ?? MAX_TAIL_EVENTS);
      return takeSlice((e) => {
        if (e.since > ripe && e.firstSeq > tailFloor && excess <= 0) return false;
        excess -= e.runs.size;
        return true;
      });
    })
      .then(
        (more) => more,
        // Kept in memory and retried next tick; the events are durable either way.
        () => false,
      )
      .then((more) => {
        slicePending = false;
        // A backlog is written slice after slice, not one slice per timer tick: the writer
        // keeps pace with ingest, and each slice gives the event loop back.
        if (more && !closed) setImmediate(() => slicePending || closed || flushSlice());
      });
  };

  replayTail(db, lastSeq);
  // After the tail is replayed: from here on this thread's connection only reads.
  const writer = startWriterThread({ path: opts.path, durability: opts.durability, cacheMb: opts.cacheMb, statements: W });
  let flushTimer: NodeJS.Timeout | undefined;
  if (opts.flushBehind !== false) {
    flushTimer = setInterval(() => {
      // One slice at a time, so event commits never queue behind a pile of row writes.
      if (dirty.size === 0 || slicePending) return;
      flushSlice();
    }, FLUSH_EVERY_MS);
    flushTimer.unref();
  }
  // Aggregate reads, run on the checkpointer's connection (off the event loop).
  const R = new StatementSet();
  const statsPerJob = R.add(runStatsSql({ perJob: true, oneJob: false }));
  const statsOfJob = R.add(runStatsSql({ perJob: true, oneJob: true }));
  const statsOverall = R.add(runStatsSql({ perJob: false, oneJob: false }));
  const endedInStates = R.add(
    'SELECT run_id, job_name, ended_at FROM runs WHERE ended_at IS NOT NULL AND ended_at >= ? AND ended_at < ? AND state IN (SELECT value FROM json_each(?))',
  );
  const checkpointer: Checkpointer = startCheckpointer(opts.path, { statements: R, cacheKib: cacheKib(opts.cacheMb) });
  /** On the checkpointer's connection; only when that thread is gone, on this one (correct, just blocking). */
  const readOffLoop = async (reads: Read[]): Promise<unknown[][]> =>
    (await checkpointer.read(reads)) ?? db.transaction(() => reads.map(([i, ...p]) => db.prepare(R.sql[i] as string).all(...p)))();
  /**
   * The partial index a state filter can use, with the terms SQLite needs to see to use it
   * (it does not pick a partial index itself without ANALYZE statistics): a job's open runs
   * (runs_unfinished; a job with 100k finished runs and none running read every row), or a
   * job's or a parent's failures (migration 8), usually rare.
   */
  const stateIndex = (q: RunQuery, states: readonly RunState[]): { from: string; terms: string[] } | undefined => {
    if (q.job_name !== undefined && states.every((s) => !isTerminal(s))) return { from: 'runs INDEXED BY runs_unfinished', terms: ['ended_at IS NULL'] };
    if (!states.every((s) => isTerminal(s) && s !== 'succeeded')) return undefined;
    if (q.job_name !== undefined) return { from: 'runs INDEXED BY runs_unsuccessful_by_job', terms: [UNSUCCESSFUL] };
    if (q.parent_run_id !== undefined) return { from: 'runs INDEXED BY runs_unsuccessful_by_parent', terms: ['parent_run_id IS NOT NULL', UNSUCCESSFUL] };
    return undefined;
  };

  const groups = createSqliteGroupLog(db, writer, groupStatements);

  /**
   * Deletes events received before `before`. The cut-off is found by binary search on
   * seq (received_at grows with seq; a clock step back only moves the cut by that step),
   * which spares the log an index on received_at.
   */
  const pruneEvents = async (before: number): Promise<number> => {
    let lo = (selectMinSeq.get() as { s: number }).s;
    let hi = lastSeq;
    let cut = lo - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = firstSeqFrom.get(mid) as { seq: number; received_at: number } | undefined;
      if (!row || row.received_at >= before) hi = mid - 1;
      else {
        cut = row.seq;
        lo = row.seq + 1;
      }
    }
    if (cut < 1) return 0;
    // Slice by slice: deleting 600k events and their keys in one transaction held the writer
    // (and every push waiting on it) for 1.9 s, and an hourly prune scanned all of event_keys
    // and run_events however little it deleted.
    let deleted = 0;
    const slice = opts.pruneSlice ?? PRUNE_SLICE;
    for (let from = (selectMinSeq.get() as { s: number }).s - 1; from < cut; from += slice) {
      const to = Math.min(cut, from + slice);
      const changes = await writer.run([[deleteKeysOfSlice, from, to, to], [deleteChunksOfSlice, from, to, to], [deleteEventsOfSlice, from, to]], { changes: true });
      deleted += changes?.[2] ?? 0;
    }
    return deleted;
  };

  /** Finished runs ended before `before`, except each job's latest, PRUNE_RUNS at a time after a cursor. */
  const pruneRuns = async (before: number): Promise<number> => {
    let deleted = 0;
    const per = opts.pruneRuns ?? PRUNE_RUNS;
    let after = { ended_at: -1, rid: 0 };
    for (;;) {
      const picked = selectPrunableRuns.all(before, after.ended_at, after.rid, per) as { run_id: string; ended_at: number; rid: number }[];
      if (picked.length === 0) return deleted;
      const changes = await writer.run([[deleteRunsPicked, JSON.stringify(picked.map((r) => r.run_id)), before]], { changes: true });
      deleted += changes?.[0] ?? 0;
      if (picked.length < per) return deleted;
      after = picked[picked.length - 1] as { ended_at: number; rid: number };
    }
  };

  /**
   * The rest of a commit once the writer answers: the committed events and snapshots join the
   * dirty set (their rows are written behind). Holds only what that needs.
   */
  const settleCommit = async (
    written: Promise<unknown> | undefined,
    first: number,
    jobNames: string[],
    runIds: string[],
    runs: Run[],
    jobs: Job[],
  ): Promise<void> => {
    if (written) {
      try {
        await written;
      } catch (err) {
        unreflected.delete(first);
        throw err;
      }
    }
    for (let i = 0; i < jobNames.length; i++) dirty.addEvent(jobNames[i] as string, runIds[i] as string, first + i);
    // Every run and job an event of this commit changed has its entry from addEvent, with the
    // seqs of its own events (not lastSeq: a later commit may be in flight, and a row must not
    // claim events it does not reflect). A snapshot-only commit sits at lastSeq.
    for (const r of runs) dirty.addRun(r, lastSeq, !written);
    for (const j of jobs) dirty.addJob(j, lastSeq, !written);
    if (written) unreflected.delete(first);
    if (opts.flushBehind === false) return;
    // A snapshot-only commit (no events) has nothing to replay it from: write it now.
    if (!written) await flushAll();
  };

  return {
    kind: 'sqlite',
    // The writer thread applies commits in order: the next batch is reduced while one commits.
    pipeline: 2,
    groups,

    async loadState() {
      await flushAll();
      const jobs = selectJobs.all().map((r) => JSON.parse((r as { data: string }).data) as Job);
      const runs = new Map<string, Run>();
      for (const r of selectUnfinished.all()) {
        const run = JSON.parse((r as { data: string }).data) as Run;
        runs.set(run.run_id, run);
      }
      for (const j of jobs) {
        if (runs.has(j.latest_run_id)) continue;
        const row = selectRun.get(j.latest_run_id) as { data: string } | undefined;
        if (row) runs.set(j.latest_run_id, JSON.parse(row.data) as Run);
      }
      return { jobs, runs: [...runs.values()] };
    },

    async findEvents(ids) {
      const out = new Map<string, { run_id: string }>();
      if (ids.length > BULK_LOOKUP) {
        for (const r of selectEventRuns.all(JSON.stringify(ids)) as { event_id: string; run_id: string }[]) out.set(r.event_id, { run_id: r.run_id });
        return out;
      }
      for (const id of ids) {
        const row = selectEventRun.get(id) as { run_id: string } | undefined;
        if (row) out.set(id, row);
      }
      return out;
    },

    async getRuns(ids) {
      const out = new Map<string, Run>();
      const rest: string[] = [];
      for (const id of ids) {
        const held = dirty.run(id);
        if (held) out.set(id, held);
        else rest.push(id);
      }
      if (rest.length > BULK_LOOKUP) {
        for (const r of selectRunsById.all(JSON.stringify(rest)) as { data: string }[]) {
          const run = JSON.parse(r.data) as Run;
          out.set(run.run_id, run);
        }
        return out;
      }
      for (const id of rest) {
        const row = selectRun.get(id) as { data: string } | undefined;
        if (row) out.set(id, JSON.parse(row.data) as Run);
      }
      return out;
    },

    commit(batch) {
      // Not an async function: a suspended one keeps its parameters, and with them every event
      // of the batch, alive until the writer answers (a heap snapshot under batched load held
      // 4,000 of them there, each surviving young-generation GCs into the old generation).
      // The events are read here, synchronously; only what the dirty set needs goes on.
      const { runs, jobs } = batch;
      const events = batch.events;
      const n = events.length;
      if (n === 0) return settleCommit(undefined, 0, [], [], runs, jobs);
      const ops: Op[] = [];
      // The job and run of each event, by position: the seqs are first + i. Two arrays of
      // existing strings instead of a map of per-job parts (a Map and arrays per job per
      // commit, all alive across the commit's round trip).
      const jobNames: string[] = new Array<string>(n);
      const runIds: string[] = new Array<string>(n);
      let seq = lastSeq;
      for (let i = 0; i < n; i++) {
        const { event: e, applied, reason, keyed } = events[i] as CommitBatch['events'][number];
        seq += 1;
        ops.push([insertEvent, seq, e.run_id, e.received_at, applied ? 1 : 0, reason ?? null, JSON.stringify(e)]);
        if (keyed) ops.push([insertKey, e.event_id, e.run_id, seq]);
        jobNames[i] = e.job_name;
        runIds[i] = e.run_id;
      }
      // Taken before the commit is answered: a failed commit leaves a gap, never a reused seq.
      const first = lastSeq + 1;
      lastSeq = seq;
      unreflected.add(first);
      const written = writer.run(ops, batch.epoch !== undefined ? { epoch: batch.epoch } : {});
      return settleCommit(written, first, jobNames, runIds, runs, jobs);
    },

    async getRun(id) {
      const held = dirty.run(id);
      if (held) return held;
      const row = selectRun.get(id) as { data: string } | undefined;
      return row ? (JSON.parse(row.data) as Run) : undefined;
    },

    async listRuns(q: RunQuery) {
      if (q.job_name !== undefined) await flushJob(q.job_name);
      else await flushAll();
      const where: string[] = [];
      const args: unknown[] = [];
      if (q.job_name !== undefined) {
        where.push('job_name = ?');
        args.push(q.job_name);
      }
      if (q.parent_run_id !== undefined) {
        where.push('parent_run_id = ?');
        args.push(q.parent_run_id);
      }
      let from = 'runs';
      if (q.states && q.states.length > 0) {
        where.push(`state IN (${q.states.map(() => '?').join(',')})`);
        args.push(...q.states);
        const index = stateIndex(q, q.states);
        if (index) {
          from = index.from;
          where.push(...index.terms);
        }
      }
      const cur = q.cursor ? decodeCursor(q.cursor) : undefined;
      if (cur) {
        where.push('(created_at < ? OR (created_at = ? AND run_id < ?))');
        args.push(cur.created_at, cur.created_at, cur.run_id);
      }
      const sql = `SELECT data FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                   ORDER BY created_at DESC, run_id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, q.limit + 1) as { data: string }[];
      const runs = rows.slice(0, q.limit).map((r) => JSON.parse(r.data) as Run);
      const last = runs[runs.length - 1];
      return rows.length > q.limit && last ? { runs, next_cursor: encodeCursor(last.created_at, last.run_id) } : { runs };
    },

    async listEvents(runId) {
      // The run's newest events may still be waiting for their chunk: write it (and wait for
      // any row write already under way, which may hold it) before reading.
      const job = dirty.jobWithEventsOf(runId);
      await (job !== undefined ? flushJob(job) : flushRows(() => sliceOf([])));
      return (selectEvents.all(runId, runId) as EventRow[]).map(eventOfRow);
    },

    async eventWindow(runId, head, tail) {
      const job = dirty.jobWithEventsOf(runId);
      await (job !== undefined ? flushJob(job) : flushRows(() => sliceOf([])));
      const total = (countEvents.get(runId, runId) as { n: number }).n;
      if (total <= head + tail) return { events: (selectEvents.all(runId, runId) as EventRow[]).map(eventOfRow), total };
      const first = selectFirstEvents.all(runId, runId, head) as EventRow[];
      const last = (selectLastEvents.all(runId, runId, tail) as EventRow[]).reverse();
      return { events: [...first, ...last].map(eventOfRow), total };
    },

    async finishedRuns(q) {
      if (q.job_name !== undefined) await flushJob(q.job_name);
      else await flushAll();
      const sql = `SELECT job_name, state, ended_at, duration_seconds FROM runs
                   WHERE ended_at IS NOT NULL AND ended_at >= ? AND ended_at < ? ${q.job_name !== undefined ? 'AND job_name = ?' : ''}`;
      const args: unknown[] = [q.since, q.until];
      if (q.job_name !== undefined) args.push(q.job_name);
      return db.prepare(sql).all(...args) as FinishedRun[];
    },

    async runStats(q) {
      if (q.job_name !== undefined) await flushJob(q.job_name);
      else await flushAll();
      const reads: Read[] = q.job_name !== undefined ? [[statsOfJob, q.since, q.until, q.job_name]] : [[statsPerJob, q.since, q.until], [statsOverall, q.since, q.until]];
      const [perJob = [], overall = perJob] = (await readOffLoop(reads)) as RunStatsRow[][];
      const jobs = new Map<string, RunStats>();
      for (const r of perJob) jobs.set(r.job_name, runStatsOfRow(r));
      return { overall: runStatsOfRow(overall[0] ?? NO_RUNS_ROW), jobs };
    },

    async endedRuns(q) {
      await flushAll();
      const reads: Read[] = [[endedInStates, q.since, q.until, JSON.stringify(q.states)]];
      const [rows = []] = await readOffLoop(reads);
      return rows as { run_id: string; job_name: string; ended_at: number }[];
    },

    async recentSuccesses(jobName, limit) {
      await flushJob(jobName);
      return selectRecentSuccesses.all(jobName, limit) as Success[];
    },

    async childRuns(parentIds) {
      await flushAll();
      const out: Run[] = [];
      for (let i = 0; i < parentIds.length; i += 5_000)
        for (const r of selectChildrenOf.iterate(JSON.stringify(parentIds.slice(i, i + 5_000))) as Iterable<{ data: string }>) out.push(JSON.parse(r.data) as Run);
      return out;
    },

    async recentSuccessesOfAll(limit) {
      await flushAll();
      const out = new Map<string, Success[]>();
      for (const r of selectAllRecentSuccesses.iterate(limit) as Iterable<Success & { job_name: string }>) {
        let list = out.get(r.job_name);
        if (!list) out.set(r.job_name, (list = []));
        list.push({ ended_at: r.ended_at, duration_seconds: r.duration_seconds });
      }
      return out;
    },

    async prune(q) {
      await flushAll();
      const events = await pruneEvents(q.eventsBefore);
      const runs = await pruneRuns(q.runsBefore);
      return { events, runs };
    },

    async forgetJob(name) {
      // Its rows first: events not yet in a run_events chunk are found through the chunks.
      await flushJob(name);
      const [keys, events, chunks, runs, job] = forgetStatements;
      const changes = await writer.run(
        [
          [keys, name, name],
          [events, name, name],
          [chunks, name],
          [runs, name],
          [job, name],
        ],
        { changes: true },
      );
      return { runs: changes?.[3] ?? 0, events: changes?.[1] ?? 0 };
    },

    async ping() {
      if (closed) throw new Error('store is closed');
      const failure = writer.failure();
      if (failure) throw failure;
      // A committed write, through the writer thread like every commit: `SELECT 1` answered
      // while the disk was full (every push 503, /readyz ready). One WAL frame per probe.
      await writer.run([[touchProbe, Date.now()]]);
    },

    async close() {
      if (closed) return;
      closed = true;
      if (flushTimer) clearInterval(flushTimer);
      try {
        if (opts.flushBehind !== false) await flushAll();
        else await rowWrites;
      } finally {
        await writer.close();
        await checkpointer.stop();
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
}

export type { RunState };
