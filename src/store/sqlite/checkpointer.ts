/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection, and the
 * store's long aggregate reads on the same connection between checkpoints.
 *
 * Why: with the default `wal_autocheckpoint`, the commit that crosses 1000 WAL pages
 * copies the WAL into the database file and fsyncs it, inside the writer's transaction,
 * on the event loop. Measured on our 2-core machines that is 3× the cost of the inserts
 * themselves and every push queued behind it waits (p99 in the hundreds of ms). A PASSIVE
 * checkpoint on another connection never blocks the writer; the writer reuses the WAL from
 * the start once a checkpoint has caught up, so the WAL stays bounded as long as this
 * thread keeps pace (it does: it only copies pages).
 *
 * Aggregate reads (run statistics over a window: one job with 100k runs in the window took
 * 300-700 ms of SQL and JavaScript) would hold the event loop, and every push waiting on it;
 * here they cost a checkpoint's delay instead. They return a few rows per job, never run
 * rows: cloning 100k objects back would cost the event loop much of what it saved.
 *
 * The worker's source is an eval'd string so the same file works from dist/ and from the
 * TypeScript sources under the test runner; better-sqlite3 is resolved here and passed in.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { OverloadedError, StoreUnavailableError } from '../../domain/errors.js';
import type { StatementSet } from './writer-thread.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');
// Its reads would otherwise grow better-sqlite3's default 16 MiB page cache (RSS).
db.pragma('cache_size = -' + workerData.cacheKib);
const stmts = workerData.statements.map((sql) => db.prepare(sql));
// One read transaction: the answers of one message agree with each other.
const readAll = db.transaction((reads) => reads.map((r) => stmts[r[0]].all(...r.slice(1))));
let stopping = false;
const tick = () => {
  if (stopping) return;
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
  setTimeout(tick, workerData.intervalMs);
};
parentPort.on('message', (m) => {
  if (m === 'stop') { stopping = true; db.close(); parentPort.postMessage({ stopped: true }); return; }
  try {
    parentPort.postMessage({ id: m.id, rows: readAll(m.reads) });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});
tick();
`;

export interface CheckpointStatus {
  /** WAL frames at the last checkpoint and how many of them were copied back. */
  log: number;
  checkpointed: number;
  error?: string;
}

/** A read statement's index in the thread's StatementSet and its parameters. */
export type Read = [number, ...unknown[]];

export interface Checkpointer {
  last(): CheckpointStatus | undefined;
  /**
   * Runs the reads in one read transaction on the thread's connection; each read's rows, in
   * order. `undefined` when the thread is gone (stopped or died): the caller reads itself.
   * One read is on the thread at a time; past MAX_WAITING_READS waiting, OverloadedError.
   */
  read(reads: Read[]): Promise<unknown[][]> | undefined;
  stop(): Promise<void>;
}

/** Reads waiting behind the one in flight before more are refused (OverloadedError: 503, Retry-After). */
export const MAX_WAITING_READS = 16;

export function startCheckpointer(path: string, opts: { intervalMs?: number; cacheKib?: number; statements?: StatementSet; maxWaiting?: number } = {}): Checkpointer {
  const maxWaiting = opts.maxWaiting ?? MAX_WAITING_READS;
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const workerData = { path, driver, intervalMs: opts.intervalMs ?? 200, cacheKib: opts.cacheKib ?? 2048, statements: opts.statements?.sql ?? [] };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
  worker.unref();
  let status: CheckpointStatus | undefined;
  let stopped: Promise<void> | undefined;
  // A thread that already ended (its file vanished before it opened it) emits no second 'exit'.
  let exited = false;
  // Reads go one at a time, so the thread's checkpoint timer runs between them: a burst of
  // queued reads handled back to back would hold checkpoints off and let the WAL grow.
  interface Waiting {
    reads: Read[];
    resolve: (rows: unknown[][]) => void;
    reject: (e: Error) => void;
  }
  const waiting: Waiting[] = [];
  let current: Waiting | undefined;
  const pump = (): void => {
    if (current || exited) return;
    current = waiting.shift();
    if (!current) {
      if (!stopped) worker.unref();
      return;
    }
    // Referenced only while a read is awaited, like the writer thread.
    worker.ref();
    worker.postMessage({ id: 0, reads: current.reads });
  };
  const settleAll = (err: Error): void => {
    for (const w of [...(current ? [current] : []), ...waiting]) w.reject(err);
    current = undefined;
    waiting.length = 0;
  };
  worker.once('exit', () => {
    exited = true;
    settleAll(new StoreUnavailableError('the SQLite checkpointer thread ended before answering'));
  });
  worker.on('message', (m: CheckpointStatus & { stopped?: boolean; id?: number; rows?: unknown[][] }) => {
    if (m.id !== undefined) {
      const w = current;
      current = undefined;
      // An answer the store could not give is the store's trouble (503), not the request's.
      if (m.error !== undefined) w?.reject(new StoreUnavailableError(`store read failed: ${m.error}`));
      else w?.resolve(m.rows ?? []);
      pump();
      return;
    }
    if (!m.stopped) status = m;
  });
  // A dead checkpointer only costs WAL growth, never data: the main connection's close
  // checkpoints whatever is left.
  worker.on('error', (err) => {
    status = { log: status?.log ?? 0, checkpointed: status?.checkpointed ?? 0, error: err.message };
  });
  return {
    last: () => status,
    read(reads) {
      if (exited || stopped) return undefined;
      if (waiting.length >= maxWaiting)
        return Promise.reject(new OverloadedError(`${waiting.length} statistics queries are waiting for the store; try again shortly`));
      return new Promise((resolve, reject) => {
        waiting.push({ reads, resolve, reject });
        pump();
      });
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
        // Held until it has ended: an unref'd thread let a process with nothing else to do
        // exit before its store was closed (a script awaiting store.close() ended with code 13).
        worker.ref();
        const done = (): void => resolve();
        worker.once('exit', done);
        worker.on('message', (m: { stopped?: boolean }) => {
          if (m.stopped) void worker.terminate();
        });
        worker.postMessage('stop');
        // A worker wedged on a lock must not hold shutdown hostage.
        setTimeout(() => void worker.terminate(), 2000).unref();
      });
      return stopped;
    },
  };
}
