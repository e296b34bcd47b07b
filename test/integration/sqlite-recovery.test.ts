/**
 * The SQLite store writes run and job rows behind the event log. These tests leave the
 * rows behind on purpose (a store abandoned without close, like a process killed with
 * -9) and check that opening the file again reduces exactly the missing tail: every
 * acknowledged event counted once, none twice.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../src/domain/job.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { StoreWriter } from '../support/store-writer.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 10, 23, 12);
let dir: ReturnType<typeof tempDir>;
const open: Store[] = [];
const openStore = (flushBehind: boolean): Store => {
  const s = createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process', flushBehind });
  open.push(s);
  return s;
};

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  dir?.cleanup();
});

/** Ten jobs, each with a finished run and a running one with progress. */
async function writeHistory(store: Store, w: StoreWriter, from = 0): Promise<void> {
  for (let i = from; i < from + 10; i++) {
    const job = `job-${i % 10}`;
    await store.commit(w.batch([{ run: `a-${i}`, job, event: 'started', at: T0 + i }, { run: `a-${i}`, job, event: 'succeeded', at: T0 + i + 60_000 }]));
    await store.commit(w.batch([{ run: `b-${i}`, job, event: 'started', at: T0 + i + 70_000 }]));
    await store.commit(w.batch([{ run: `b-${i}`, job, event: 'progress', at: T0 + i + 80_000, records: i }]));
  }
}

/**
 * Twenty runs' history per job where only job-3's rows (and run_events chunks) were written
 * halfway through, then more events, and the process died: the store is left unclosed.
 */
async function historyWithPartialFlush(): Promise<{ w: StoreWriter; crashed: Store }> {
  dir = tempDir();
  const w = new StoreWriter();
  const crashed = openStore(false);
  await writeHistory(crashed, w, 0);
  // A read that needs job-3's rows writes just that job's rows (a partial flush)...
  await crashed.recentSuccesses('job-3', 5);
  // ...then more events arrive for every job.
  await writeHistory(crashed, w, 10);
  return { w, crashed };
}

const byName = (jobs: Job[]): Record<string, Job> => Object.fromEntries(jobs.map((j) => [j.job_name, j]));

describe('SQLite write-behind bounds', () => {
  it('writes the oldest rows before their 12 s once the log tail behind them is too long', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const store = createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process', maxTailEvents: 10 });
    open.push(store);
    // Heartbeats of 30 jobs, one run each: few run snapshots (the run bound stays quiet), a long log.
    for (let i = 0; i < 30; i++) await store.commit(w.batch([{ run: `t-${i}`, job: `job-${i}`, event: 'heartbeat', at: T0 + i }]));
    const reader = new Database(`${dir.path}/t.db`, { readonly: true });
    try {
      const rows = (): number => (reader.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
      const replayFrom = (): number => Number((reader.prepare(`SELECT value FROM store_meta WHERE key = 'replay_from'`).get() as { value: number }).value);
      // The age rule alone would write none for 12 s; the tail bound writes the oldest 20.
      const deadline = Date.now() + 2000;
      while (rows() < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(rows()).toBeGreaterThanOrEqual(20);
      expect(30 - replayFrom()).toBeLessThanOrEqual(10);
    } finally {
      reader.close();
    }
  });

  it('writes the oldest rows before their 12 s once too many run snapshots are held', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const store = createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process', maxDirtyRuns: 5 });
    open.push(store);
    // A stream of new runs (every Kafka message is one): twenty of them, one job.
    for (let i = 0; i < 20; i++) await store.commit(w.batch([{ run: `k-${i}`, job: 'topic', event: 'succeeded', at: T0 + i }]));
    const reader = new Database(`${dir.path}/t.db`, { readonly: true });
    try {
      const rows = (): number => (reader.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
      // The flush timer ticks every 20 ms and writes whole entries, oldest first, until at
      // most 5 runs wait (it may have written some while the commits went on); the age rule
      // alone would write none for 12 s.
      const deadline = Date.now() + 2000;
      while (rows() < 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(rows()).toBeGreaterThanOrEqual(15);
    } finally {
      reader.close();
    }
  });

  /**
   * 20,000 new jobs with a run each, held behind the log, then written: by the flush timer
   * (everything over maxDirtyRuns 0) or by a read that needs every row (listRuns without a
   * job). Each write is one transaction, so a second connection polling the row count on
   * the event loop sees every slice land; a backlog built and sent as one slice (220-350 ms
   * of the event loop at 50k jobs) shows up as a single jump from 0 to all.
   */
  it.each([
    ['the flush timer', { maxDirtyRuns: 0 }],
    ['a read that needs every row', { flushBehind: false }],
  ] as const)('a backlog of rows is written in slices with the event loop free between them: %s', async (_, storeOpts) => {
    dir = tempDir();
    const n = 20_000;
    const w = new StoreWriter();
    const store = createSqliteStore({ path: `${dir.path}/t.db`, durability: 'process', ...storeOpts });
    open.push(store);
    const batches = [];
    for (let b = 0; b < n; b += 5000) {
      const specs = [];
      for (let i = b; i < b + 5000; i++) specs.push({ run: `r-${i}`, job: `job-${i}`, event: 'succeeded' as const, at: T0 + i });
      batches.push(w.batch(specs));
    }
    await Promise.all(batches.map((x) => store.commit(x)));
    const reader = new Database(`${dir.path}/t.db`, { readonly: true });
    try {
      const rows = (): number => (reader.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
      const read = 'flushBehind' in storeOpts ? store.listRuns({ limit: 1 }) : undefined;
      const seen: number[] = [rows()];
      const deadline = Date.now() + 20_000;
      while ((seen.at(-1) as number) < n && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
        seen.push(rows());
      }
      await read;
      expect(seen.at(-1)).toBe(n);
      let jump = 0;
      for (let i = 1; i < seen.length; i++) jump = Math.max(jump, (seen[i] as number) - (seen[i - 1] as number));
      expect(jump).toBeLessThan(n / 2);
    } finally {
      reader.close();
    }
  });
});

describe('SQLite write-behind recovery', () => {
  it('an abandoned store whose rows never caught up reopens with every event reduced once', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const crashed = openStore(false);
    await writeHistory(crashed, w);
    // The rows were never written: the runs table is empty on disk.
    const peek = new Database(`${dir.path}/t.db`, { readonly: true });
    expect((peek.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n).toBe(0);
    peek.close();

    const reopened = openStore(true);
    const s = await reopened.loadState();
    const jobs = byName(s.jobs);
    expect(Object.keys(jobs)).toHaveLength(10);
    for (const [name, j] of w.jobs) expect(jobs[name]).toEqual(j);
    expect(s.runs.map((r) => r.run_id).sort()).toEqual([...w.jobs.values()].map((j) => j.latest_run_id).sort());
    expect(await reopened.getRun('a-3')).toEqual(w.runs.get('a-3'));
  });

  it('rows flushed for some jobs are not reduced again: job counters stay exact', async () => {
    const { w } = await historyWithPartialFlush();
    const reopened = openStore(true);
    const jobs = byName((await reopened.loadState()).jobs);
    for (const [name, j] of w.jobs) {
      expect(jobs[name]?.runs_total.succeeded).toBe(2);
      expect(jobs[name]).toEqual(j);
    }
  });

  it("lists every event of a run once after recovery, recorded ones too, whether its run_events chunk was written before the crash or at replay", async () => {
    const { w, crashed } = await historyWithPartialFlush();
    // A late progress on a finished run: recorded, not applied, and still part of its history.
    await crashed.commit(w.batch([{ run: 'a-3', job: 'job-3', event: 'progress', at: T0 + 200_000 }]));
    await crashed.commit(w.batch([{ run: 'a-4', job: 'job-4', event: 'progress', at: T0 + 200_000 }]));

    const reopened = openStore(true);
    await reopened.loadState();
    const listed = async (run: string) => (await reopened.listEvents(run)).map((e) => `${e.event}${e.applied ? '' : ' (recorded)'}`);
    expect(await listed('a-3')).toEqual(['started', 'succeeded', 'progress (recorded)']);
    expect(await listed('a-4')).toEqual(['started', 'succeeded', 'progress (recorded)']);
    expect(await listed('b-13')).toEqual(['started', 'progress']);
    const seqs = (await reopened.listEvents('b-3')).map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // A second open still lists each event once.
    for (const s of open.splice(0)) await s.close();
    expect(await (async () => (await openStore(true).listEvents('a-4')).length)()).toBe(3);
  });

  it('a second open after recovery replays nothing and changes nothing', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    await writeHistory(openStore(false), w);
    const first = await openStore(true).loadState();
    for (const s of open.splice(0)) await s.close();
    const second = await openStore(true).loadState();
    expect(byName(second.jobs)).toEqual(byName(first.jobs));
  });

  it('a log pruned empty keeps counting seq upward, so later events still replay after a crash', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const store = openStore(false);
    await writeHistory(store, w);
    expect((await store.prune({ eventsBefore: T0 + 10 * 86_400_000, runsBefore: 0 })).events).toBe(40);
    // New events after the log was emptied; the process dies before their rows are written.
    await store.commit(w.batch([{ run: 'late', job: 'job-1', event: 'started', at: T0 + 200_000 }, { run: 'late', job: 'job-1', event: 'failed', at: T0 + 260_000 }]));
    const reopened = openStore(true);
    const job = byName((await reopened.loadState()).jobs)['job-1'];
    expect(job).toEqual(w.jobs.get('job-1'));
    expect(job?.runs_total.failed).toBe(1);
  });

  it("a job's rows written between two pipelined commits claim only the first one's events", async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const crashed = openStore(false);
    // Two commits of one job in flight together, as ingest pipelines them.
    const first = crashed.commit(w.batch([{ run: 'p', job: 'j', event: 'started', at: T0 }]));
    const second = crashed.commit(w.batch([{ run: 'p', job: 'j', event: 'progress', at: T0 + 1, records: 7 }]));
    await first;
    // The first is answered, the second not yet: a read writes job j's rows now. They reflect
    // the first commit only, so the job row's snap_seq must not cover the second's event.
    const read = crashed.recentSuccesses('j', 5);
    await second;
    await read;
    // Abandoned before the second commit's rows were written.
    const reopened = openStore(true);
    expect(await reopened.getRun('p')).toEqual(w.runs.get('p'));
    expect(byName((await reopened.loadState()).jobs).j).toEqual(w.jobs.get('j'));
    expect(w.jobs.get('j')?.records_processed_total).toBe(7);
  });

  it('a row write sent while an event commit is in flight does not let replay skip that commit', async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const crashed = openStore(false);
    await crashed.commit(w.batch([{ run: 'o', job: 'other', event: 'started', at: T0 }]));
    // The event commit for job "a" and a read that writes job "other"'s rows go to the writer
    // together; the rows' replay_from must stay below job "a"'s events.
    await Promise.all([
      crashed.commit(w.batch([{ run: 'x', job: 'a', event: 'started', at: T0 + 1 }, { run: 'x', job: 'a', event: 'succeeded', at: T0 + 2 }])),
      crashed.listRuns({ job_name: 'other', limit: 10 }),
    ]);
    // Abandoned: job "a"'s rows were never written.
    const reopened = openStore(true);
    expect(await reopened.getRun('x')).toEqual(w.runs.get('x'));
    expect(byName((await reopened.loadState()).jobs).a).toEqual(w.jobs.get('a'));
  });

  it("a job's row write that failed (a full disk) and is put back does not let a later row write move replay past older jobs' events", async () => {
    dir = tempDir();
    const w = new StoreWriter();
    const crashed = openStore(false);
    await crashed.commit(w.batch([{ run: 'y', job: 'older', event: 'started', at: T0 }]));
    await crashed.commit(w.batch([{ run: 'x', job: 'failing', event: 'started', at: T0 + 1 }]));
    // Job "failing"'s rows fail to write (as on a full disk), for a read that needs them.
    const ddl = new Database(`${dir.path}/t.db`);
    ddl.exec(`CREATE TRIGGER full_disk BEFORE INSERT ON runs WHEN NEW.job_name = 'failing' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    await expect(crashed.listEvents('x')).rejects.toThrow(/disk is full/);
    ddl.exec('DROP TRIGGER full_disk');
    ddl.close();
    // Room again: another job's rows are written, with the replay_from of what is still dirty.
    await crashed.commit(w.batch([{ run: 'z', job: 'third', event: 'started', at: T0 + 2 }]));
    await crashed.listEvents('z');
    // Abandoned: job "older"'s rows were never written, its event must be replayed.
    const reopened = openStore(true);
    const jobs = byName((await reopened.loadState()).jobs);
    expect(jobs.older).toEqual(w.jobs.get('older'));
    expect(jobs.failing).toEqual(w.jobs.get('failing'));
    expect((await reopened.listEvents('y')).map((e) => e.run_id)).toEqual(['y']);
  });
});
