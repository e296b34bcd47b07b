/**
 * SQLite pruning in slices: the event keys and run-event chunks of pruned events go with
 * them (found through the events, not by scanning their tables), runs are picked after a
 * cursor that walks ties in ended_at, and the log after the cut is left whole.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { StoreWriter } from '../support/store-writer.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 10, 1);

describe('SQLite prune in slices', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store | undefined;
  afterEach(async () => {
    await store?.close();
    dir?.cleanup();
  });

  it('deletes old events with their keys and chunks, and old runs that share one end time, a slice at a time', async () => {
    dir = tempDir();
    const path = `${dir.path}/t.db`;
    store = createSqliteStore({ path, durability: 'process', pruneSlice: 3, pruneRuns: 2 });
    const w = new StoreWriter();
    // 9 old runs of 3 jobs, all ending at the same instant (a batch with one timestamp), with client event ids.
    for (let i = 0; i < 9; i++)
      await store.commit(
        w.batch([
          { run: `old${i}`, job: `j${i % 3}`, event: 'started', at: T0, id: `old-s-${i}` },
          { run: `old${i}`, job: `j${i % 3}`, event: 'succeeded', at: T0 + 1000, id: `old-e-${i}` },
        ]),
      );
    // j0's newer run, after the cut; j1 and j2 keep an old run as their latest.
    await store.commit(w.batch([{ run: 'new0', job: 'j0', event: 'started', at: T0 + 60_000, id: 'new-s' }]));
    const out = await store.prune({ eventsBefore: T0 + 30_000, runsBefore: T0 + 30_000 });
    expect(out).toEqual({ events: 18, runs: 7 });
    expect((await store.loadState()).runs.map((r) => r.run_id).sort()).toEqual(['new0', 'old7', 'old8']);
    await store.close();
    store = undefined;

    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT event_id FROM event_keys ORDER BY event_id').all()).toEqual([{ event_id: 'new-s' }]);
      expect(db.prepare('SELECT run_id FROM run_events').all()).toEqual([{ run_id: 'new0' }]);
      expect(db.prepare('SELECT run_id FROM events').all()).toEqual([{ run_id: 'new0' }]);
    } finally {
      db.close();
    }
  });
});
