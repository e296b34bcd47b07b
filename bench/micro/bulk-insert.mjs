// Why the event log is written one bound statement per event, not one
// `INSERT … SELECT … FROM json_each(?)` per batch: the bulk form looks cheaper (one string
// posted to the writer thread, no per-event parameter arrays), but building and cloning the
// one big JSON costs the event loop more, and SQLite re-reading it costs the writer more.
// Prints µs per event for both sides of both forms (the event loop's part includes the
// structured clone that postMessage does). Batches of 3,200 events, as 64 connections of
// 100-event pushes produce.
//   node bench/micro/bulk-insert.mjs
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = 3200;
const ROUNDS = 60;
const dir = mkdtempSync(join(tmpdir(), 'jp-bulk-'));
const open = (name) => {
  rmSync(join(dir, name), { force: true });
  rmSync(join(dir, `${name}-wal`), { force: true });
  const db = new Database(join(dir, name));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, received_at INTEGER NOT NULL, applied INTEGER NOT NULL, reason TEXT, data TEXT NOT NULL)');
  return db;
};
const event = (i) => ({
  job_name: `bench-${i % 10000}`,
  run_id: `bench-run-${i % 10000}`,
  event: 'heartbeat',
  progress: i % 100,
  source: 'push',
  event_id: `0193a3b4-5c6d-7e8f-9a0b-${String(i).padStart(12, '0')}`,
  timestamp: 1764000000000 + i,
  received_at: 1764000000000 + i,
});
const batches = Array.from({ length: ROUNDS }, (_, r) => Array.from({ length: N }, (_, i) => event(r * N + i)));

/**
 * Times one form over every batch: `build` runs on the event loop (with the structured clone
 * postMessage would make of its result); the writer `prepare(db)` returns runs in one
 * transaction per batch.
 */
function measure(file, build, prepare) {
  const db = open(file);
  const tx = db.transaction(prepare(db));
  let seq = 0;
  let loop = 0;
  let writer = 0;
  for (const events of batches) {
    let t = performance.now();
    const posted = structuredClone(build(events, seq + 1));
    loop += performance.now() - t;
    t = performance.now();
    tx(posted, seq + 1);
    seq += events.length;
    writer += performance.now() - t;
  }
  db.close();
  return { loop, writer };
}

const perRow = () =>
  measure(
    'rows.db',
    (events, first) => events.map((e, i) => [first + i, e.run_id, e.received_at, 1, null, JSON.stringify(e)]),
    (db) => {
      const insert = db.prepare('INSERT INTO events (seq, run_id, received_at, applied, reason, data) VALUES (?, ?, ?, ?, ?, ?)');
      return (ops) => {
        for (const op of ops) insert.run(...op);
      };
    },
  );

const bulk = () =>
  measure(
    'bulk.db',
    (events) => JSON.stringify(events.map((e) => [e.run_id, e.received_at, 1, null, e])),
    (db) => {
      const insert = db.prepare(
        `INSERT INTO events (seq, run_id, received_at, applied, reason, data)
         SELECT ? + key, value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', value -> '$[4]' FROM json_each(?)`,
      );
      return (json, first) => insert.run(first, json);
    },
  );

const us = (ms) => ((ms * 1000) / (N * ROUNDS)).toFixed(2);
// Three rounds, alternating, so JIT warm-up and machine noise hit both forms alike.
for (let round = 1; round <= 3; round++)
  for (const [name, fn] of [['one statement per event', perRow], ['json_each per batch', bulk]]) {
    const { loop, writer } = fn();
    console.log(`round ${round}: ${name.padEnd(24)} event loop ${us(loop)} µs/event, writer ${us(writer)} µs/event`);
  }
rmSync(dir, { recursive: true, force: true });
