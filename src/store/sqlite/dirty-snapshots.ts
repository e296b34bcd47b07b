/**
 * Run and job snapshots committed to the event log but not yet written to their rows.
 *
 * The event log is what makes a push durable; the runs/jobs rows are a materialized view
 * of it. Writing both per event tripled the cost of a commit (two JSON snapshots and two
 * upserts with five indexes per event), so rows are written behind, coalesced per job:
 * a job that gets 100 heartbeats between two flushes is written once.
 *
 * A taken entry's runs stay readable through `run()` until `settle` (its rows committed) or
 * `putBack` (they were not): between the two the rows are being written, and a reader must
 * not fall through to rows that do not have them yet.
 *
 * An entry also carries, per run, the seqs of the run's events since the last flush (applied
 * or not): they become that run's next chunk in run_events, written with the rows.
 *
 * Entries are kept per job (a job and the runs it changed are flushed together, so a
 * job row's `snap_seq` speaks for its runs too) in the order they first became dirty,
 * which is also the order of their first unflushed event: the oldest entry's `firstSeq`
 * is the lowest seq a crash could leave unreflected.
 */
import type { Job } from '../../domain/job.js';
import type { Run } from '../../domain/run.js';

export interface DirtyEntry {
  job_name: string;
  job?: Job;
  runs: Map<string, Run>;
  /**
   * The run and seq of each event (ascending) that no run_events chunk holds yet, as two
   * parallel arrays: a Map of per-run lists for every entry was ~1 in 6 of the bytes a
   * single-event push left for the old generation at 10k jobs (most entries have one run).
   */
  seqRuns: string[];
  seqNums: number[];
  /** Seq of the first and the newest event this entry reflects that no row reflects yet. */
  firstSeq: number;
  lastSeq: number;
  /** performance.now() when the entry became dirty. */
  since: number;
}

export class DirtySnapshots {
  private readonly byJob = new Map<string, DirtyEntry>();
  private readonly runs = new Map<string, Run>();
  /** Run → the job whose entry holds seqs of it. */
  private readonly seqOwner = new Map<string, string>();

  get size(): number {
    return this.byJob.size;
  }

  /** Run snapshots held (including those of entries taken and not settled yet). */
  get runCount(): number {
    return this.runs.size;
  }

  /**
   * An event committed at `seq` for this job and run: dirties the job (an entry created now
   * starts at `seq`, so entries stay in the order of their first unflushed event) and makes
   * `seq` part of the run's next chunk. Called per event, in seq order, after the commit.
   */
  addEvent(jobName: string, runId: string, seq: number): void {
    const e = this.entry(jobName, seq);
    e.seqRuns.push(runId);
    e.seqNums.push(seq);
    if (this.seqOwner.get(runId) !== jobName) this.seqOwner.set(runId, jobName);
  }

  /**
   * A run's newest snapshot. Its events came through `addEvent`, which set the entry's seqs;
   * `seq` is used only for an entry created here (a snapshot without an event of its own
   * commit) or, with `raise`, moves the entry's newest seq up to it.
   */
  addRun(run: Run, seq: number, raise = false): void {
    this.entry(run.job_name, seq, raise).runs.set(run.run_id, run);
    this.runs.set(run.run_id, run);
  }

  /** A job's newest snapshot; `seq` and `raise` as for `addRun`. */
  addJob(job: Job, seq: number, raise = false): void {
    this.entry(job.job_name, seq, raise).job = job;
  }

  private entry(jobName: string, seq: number, raise = true): DirtyEntry {
    let e = this.byJob.get(jobName);
    if (!e) {
      e = { job_name: jobName, runs: new Map(), seqRuns: [], seqNums: [], firstSeq: seq, lastSeq: seq, since: performance.now() };
      this.byJob.set(jobName, e);
    } else if (raise && seq > e.lastSeq) e.lastSeq = seq;
    return e;
  }

  /** The job whose dirty entry holds events of this run not yet in run_events, if any. */
  jobWithEventsOf(runId: string): string | undefined {
    return this.seqOwner.get(runId);
  }

  run(runId: string): Run | undefined {
    return this.runs.get(runId);
  }

  /** Lowest seq not reflected in the rows, or undefined when everything is flushed. */
  oldestSeq(): number | undefined {
    for (const e of this.byJob.values()) return e.firstSeq;
    return undefined;
  }

  /** Removes and returns entries, oldest first, while `more()` says so; their runs stay readable until `settle`. */
  take(more: (taken: number, entry: DirtyEntry) => boolean): DirtyEntry[] {
    const out: DirtyEntry[] = [];
    for (const e of this.byJob.values()) {
      if (!more(out.length, e)) break;
      out.push(e);
    }
    for (const e of out) this.remove(e);
    return out;
  }

  /**
   * Returns entries whose write failed to their place by first unflushed event, merging any
   * newer changes of the same job into them. Their runs never left `run()`; a newer snapshot
   * of a run stays the one it returns. Not simply in front: a job's own write (`takeJob`, for
   * a read) takes an entry from anywhere, and put first it hid older entries from
   * `oldestSeq`, so the next row write set replay_from past their events and a crash then
   * never replayed them (their jobs and runs gone from the restarted agent).
   */
  putBack(entries: DirtyEntry[]): void {
    // Stable: a job's failed entry comes before its newer one, whose firstSeq is higher.
    const all = [...entries, ...this.byJob.values()].sort((a, b) => a.firstSeq - b.firstSeq);
    this.byJob.clear();
    for (const e of all) {
      let x = this.byJob.get(e.job_name);
      if (!x) {
        x = { job_name: e.job_name, runs: new Map(), seqRuns: [], seqNums: [], firstSeq: e.firstSeq, lastSeq: e.lastSeq, since: e.since };
        this.byJob.set(e.job_name, x);
      }
      if (e.lastSeq > x.lastSeq) x.lastSeq = e.lastSeq;
      if (e.job) x.job = e.job;
      for (const [id, r] of e.runs) {
        x.runs.set(id, r);
        if (!this.runs.has(id)) this.runs.set(id, r);
      }
      // Older entries come first, so each run's seqs stay ascending.
      for (let i = 0; i < e.seqRuns.length; i++) {
        const id = e.seqRuns[i] as string;
        x.seqRuns.push(id);
        x.seqNums.push(e.seqNums[i] as number);
        this.seqOwner.set(id, x.job_name);
      }
    }
  }

  /** The taken entries' rows are committed: their runs are read from the rows from now on. */
  settle(entries: DirtyEntry[]): void {
    for (const e of entries) for (const [id, r] of e.runs) if (this.runs.get(id) === r) this.runs.delete(id);
  }

  takeJob(jobName: string): DirtyEntry | undefined {
    const e = this.byJob.get(jobName);
    if (e) this.remove(e);
    return e;
  }

  private remove(e: DirtyEntry): void {
    this.byJob.delete(e.job_name);
    for (const id of e.seqRuns) if (this.seqOwner.get(id) === e.job_name) this.seqOwner.delete(id);
  }
}

/** Calls `fn` once per run of the entry with its seqs, ascending: the run_events chunks to write. */
export function forEachChunk(e: DirtyEntry, fn: (runId: string, seqs: number[]) => void): void {
  const { seqRuns, seqNums } = e;
  if (seqRuns.length === 0) return;
  const only = seqRuns[0] as string;
  let single = true;
  for (let i = 1; i < seqRuns.length && single; i++) single = seqRuns[i] === only;
  if (single) return fn(only, seqNums);
  const byRun = new Map<string, number[]>();
  for (let i = 0; i < seqRuns.length; i++) {
    const id = seqRuns[i] as string;
    const list = byRun.get(id);
    if (list) list.push(seqNums[i] as number);
    else byRun.set(id, [seqNums[i] as number]);
  }
  byRun.forEach((seqs, id) => fn(id, seqs));
}
