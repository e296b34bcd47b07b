/**
 * The SQLite writer connection, on its own thread.
 *
 * Why: better-sqlite3 is synchronous, so every insert, every commit and the WAL writes it
 * causes ran on the event loop, between HTTP requests and Kafka fetches. In the Kafka
 * bench (every message a new finished run) that was about 40% of the event loop's time.
 * Here the main thread decides everything (seqs, rows, their JSON) and sends the
 * statements' parameters; this thread only binds and steps them, in one transaction per
 * message, and answers once the transaction has committed. A caller that awaits `run`
 * therefore holds the same promise as before: resolved means durable.
 *
 * Reads stay on the main thread's own connection: WAL readers never block this writer,
 * and every read a caller issues after a resolved `run` sees that transaction.
 *
 * The thread's source is an eval'd string (like the checkpointer's), so the same file
 * works from dist/ and from the TypeScript sources under the test runner.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Durability } from '../../config/schema.js';
import { cacheKib } from './open-database.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('journal_mode = WAL');
db.pragma('synchronous = ' + workerData.synchronous);
db.pragma('busy_timeout = 5000');
db.pragma('foreign_keys = ON');
db.pragma('cache_size = -' + workerData.cacheKib);
// Checkpoints belong to the checkpointer thread: one here would copy the WAL back inside a commit.
db.pragma('wal_autocheckpoint = 0');
const stmts = workerData.statements.map((sql) => db.prepare(sql));
const runOps = db.transaction((ops, changes) => {
  const out = changes ? [] : undefined;
  for (const op of ops) {
    const params = op.slice(1);
    // A Uint8Array arrives as one (structured clone); the driver binds only Buffers as blobs.
    for (let i = 0; i < params.length; i++) {
      const v = params[i];
      if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v)) params[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    const r = stmts[op[0]].run(...params);
    if (out) out.push(r.changes);
  }
  return out;
});
// Commits of one epoch were reduced on top of each other: after one fails, the later ones
// of its epoch must fail too (src/ingest/ingest.ts pipelines two batches).
let failedEpoch = -1;
parentPort.on('message', (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  if (m.epoch !== undefined && m.epoch <= failedEpoch) {
    parentPort.postMessage({ id: m.id, error: 'an earlier commit this one was reduced on failed', code: 'JOBPULSE_EPOCH' });
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, changes: runOps(m.ops, m.changes) });
  } catch (err) {
    if (m.epoch !== undefined && m.epoch > failedEpoch) failedEpoch = m.epoch;
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err), code: err && err.code });
  }
});
`;

/** A statement's index and its parameters. */
export type Op = [number, ...unknown[]];

export interface WriterThread {
  /**
   * Runs the ops in one transaction; resolves after the commit, with each op's `changes`
   * when asked. Rejects (nothing written) if the transaction failed, or if an earlier
   * `run` of the same `epoch` failed.
   */
  run(ops: Op[], opts?: { changes?: boolean; epoch?: number }): Promise<number[] | undefined>;
  /** Why the thread cannot write, if it cannot (it died). */
  failure(): Error | undefined;
  /** Finishes what was sent, then closes the connection and ends the thread. */
  close(): Promise<void>;
}

/** Names statements once, so ops carry a small integer instead of SQL. */
export class StatementSet {
  readonly sql: string[] = [];
  add(sql: string): number {
    this.sql.push(sql);
    return this.sql.length - 1;
  }
}

export class SqliteWriteError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SqliteWriteError';
  }
}

/**
 * Starts the thread. Messages sent before it is up wait in its port (a MessagePort
 * buffers until its listener is attached), so the store can be used at once.
 */
export function startWriterThread(opts: { path: string; durability: Durability; cacheMb?: number | undefined; statements: StatementSet }): WriterThread {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // Its garbage is short-lived message arrays: a small young generation keeps the thread's
    // heap (and the agent's RSS) small without costing it throughput.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    workerData: { path: opts.path, driver, synchronous: opts.durability === 'power' ? 'FULL' : 'NORMAL', cacheKib: cacheKib(opts.cacheMb), statements: opts.statements.sql },
  });
  const pending = new Map<number, { resolve: (c: number[] | undefined) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let dead: Error | undefined;
  let closed: Promise<void> | undefined;
  let onClosed: (() => void) | undefined;

  const die = (err: Error): void => {
    dead ??= err;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  worker.on('message', (m: { id?: number; changes?: number[]; error?: string; code?: string; closed?: boolean }) => {
    if (m.closed) return onClosed?.();
    const p = pending.get(m.id as number);
    if (!p) return;
    pending.delete(m.id as number);
    if (pending.size === 0 && !closed) worker.unref();
    if (m.error !== undefined) p.reject(new SqliteWriteError(m.error, m.code));
    else p.resolve(m.changes);
  });
  worker.unref();
  worker.on('error', (err) => die(new SqliteWriteError(`SQLite writer thread failed: ${err.message}`)));
  worker.on('exit', (code) => die(new SqliteWriteError(`SQLite writer thread exited (code ${code})`)));

  return {
    run(ops, o) {
      if (dead) return Promise.reject(dead);
      if (closed) return Promise.reject(new SqliteWriteError('store is closed'));
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        // Referenced only while a commit is awaited: an idle store never holds the process open.
        if (pending.size === 1) worker.ref();
        worker.postMessage({ id, ops, changes: o?.changes === true, epoch: o?.epoch });
      });
    },
    failure: () => dead,
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (dead) return resolve();
        // Held until it has ended, like the checkpointer: see checkpointer.ts stop().
        worker.ref();
        onClosed = () => {
          void worker.terminate().then(() => resolve());
        };
        worker.once('exit', () => resolve());
        // Messages are handled in order: everything sent before this commits first.
        worker.postMessage({ close: true });
      });
      return closed;
    },
  };
}
