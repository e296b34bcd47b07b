/**
 * Migration 5 rebuilds the event log (lean rows, integer run key, client keys apart).
 * A database written by the previous schema must open with its history intact.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/sqlite/migrations/index.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { StoreWriter } from '../support/store-writer.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 10, 23, 12);
let dir: ReturnType<typeof tempDir>;
let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
  dir?.cleanup();
});

describe('SQLite migration to the lean event log', () => {
  it('keeps events, their order, client ids and run state written by schema version 4', async () => {
    dir = tempDir();
    const path = `${dir.path}/old.db`;
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.filter((x) => x.version <= 4)) db.exec(m.sql);
    db.pragma('user_version = 4');
    // What the version-4 writer committed: whole events as JSON, runs and jobs as rows.
    const w = new StoreWriter();
    const batch = w.batch([
      { run: 'r1', job: 'etl', event: 'started', at: T0, id: 'client-1' },
      { run: 'r1', job: 'etl', event: 'progress', at: T0 + 1000, records: 5 },
      { run: 'r1', job: 'etl', event: 'succeeded', at: T0 + 2000 },
    ]);
    const ins = db.prepare(
      'INSERT INTO events (event_id, run_id, job_name, event, source, timestamp, received_at, applied, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const { event: e, applied } of batch.events) ins.run(e.event_id, e.run_id, e.job_name, e.event, e.source, e.timestamp, e.received_at, applied ? 1 : 0, null, JSON.stringify(e));
    for (const r of batch.runs) db.prepare('INSERT INTO runs (run_id, job_name, state, created_at, ended_at, data) VALUES (?, ?, ?, ?, ?, ?)').run(r.run_id, r.job_name, r.state, r.created_at, r.ended_at ?? null, JSON.stringify(r));
    for (const j of batch.jobs) db.prepare('INSERT INTO jobs (job_name, last_seen_at, data) VALUES (?, ?, ?)').run(j.job_name, j.last_seen_at, JSON.stringify(j));
    db.close();

    store = createSqliteStore({ path, durability: 'process' });
    const events = await store.listEvents('r1');
    expect(events.map((e) => [e.event, e.seq, e.applied])).toEqual([
      ['started', 1, true],
      ['progress', 2, true],
      ['succeeded', 3, true],
    ]);
    expect(events[1]?.records_processed).toBe(5);
    expect((await store.findEvents(['client-1'])).get('client-1')).toEqual({ run_id: 'r1' });
    const s = await store.loadState();
    expect(s.jobs).toEqual(batch.jobs);
    expect(s.runs).toEqual(batch.runs);
    // New events continue the old log's seq.
    await store.commit(w.batch([{ run: 'r2', job: 'etl', event: 'started', at: T0 + 5000 }]));
    expect((await store.listEvents('r2'))[0]?.seq).toBe(4);
  });
});
