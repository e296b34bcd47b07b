/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection.
 *
 * Why: with the default `wal_autocheckpoint`, the commit that crosses 1000 WAL pages
 * copies the WAL into the database file and fsyncs it, inside the writer's transaction,
 * on the event loop. Measured on our 2-core machines that is 3× the cost of the inserts
 * themselves and every push queued behind it waits (p99 in the hundreds of ms). A PASSIVE
 * checkpoint on another connection never blocks the writer; the writer reuses the WAL from
 * the start once a checkpoint has caught up, so the WAL stays bounded as long as this
 * thread keeps pace (it does: it only copies pages).
 *
 * The worker's source is an eval'd string so the same file works from dist/ and from the
 * TypeScript sources under the test runner; better-sqlite3 is resolved here and passed in.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('wal_autocheckpoint = 0');
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
  if (m === 'stop') { stopping = true; db.close(); parentPort.postMessage({ stopped: true }); }
});
tick();
`;

export interface CheckpointStatus {
  /** WAL frames at the last checkpoint and how many of them were copied back. */
  log: number;
  checkpointed: number;
  error?: string;
}

export interface Checkpointer {
  last(): CheckpointStatus | undefined;
  stop(): Promise<void>;
}

export function startCheckpointer(path: string, intervalMs = 200): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, driver, intervalMs }, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
  worker.unref();
  let status: CheckpointStatus | undefined;
  let stopped: Promise<void> | undefined;
  // A thread that already ended (its file vanished before it opened it) emits no second 'exit'.
  let exited = false;
  worker.once('exit', () => (exited = true));
  worker.on('message', (m: CheckpointStatus & { stopped?: boolean }) => {
    if (!m.stopped) status = m;
  });
  // A dead checkpointer only costs WAL growth, never data: the main connection's close
  // checkpoints whatever is left.
  worker.on('error', (err) => {
    status = { log: status?.log ?? 0, checkpointed: status?.checkpointed ?? 0, error: err.message };
  });
  return {
    last: () => status,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (exited) return resolve();
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
