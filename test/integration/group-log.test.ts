/**
 * The SQLite Pushgateway group log (src/store/sqlite/group-log.ts) on a real file: after any
 * sequence of puts, deletes, wipes and compactions, a fresh process (new connection, load)
 * sees exactly the last state, and the log stays bounded. Plus the migration from the
 * one-row-per-group table of schema version 2.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteGroupLog, prepareGroupLogStatements } from '../../src/store/sqlite/group-log.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations/index.js';
import { migrate, openDatabase } from '../../src/store/sqlite/open-database.js';
import type { Db } from '../../src/store/sqlite/open-database.js';
import { StatementSet, startWriterThread } from '../../src/store/sqlite/writer-thread.js';
import type { StoredGroup } from '../../src/store/store.js';
import { tempDir } from '../support/temp-dir.js';

const group = (key: string, n: number): StoredGroup => ({
  group_key: key,
  labels: { job: key },
  families: new Uint8Array([n % 256, 1, 2, 3]),
  push_time: 1_700_000_000_000 + n,
  push_failure_time: 0,
  ...(n % 3 === 0 ? { expires_at: 1_800_000_000_000 + n } : {}),
});

const byKey = (groups: StoredGroup[]): Map<string, StoredGroup> => new Map(groups.map((g) => [g.group_key, { ...g, families: new Uint8Array(g.families) }]));

/** The group log as the store runs it: reads on `db`, writes on a writer thread of the same file. */
const openLog = (db: Db, path: string, opts?: { slack?: number }) => {
  const w = new StatementSet();
  const st = prepareGroupLogStatements(w);
  const writer = startWriterThread({ path, durability: 'process', statements: w });
  const log = createSqliteGroupLog(db, writer, st, opts);
  return { log, close: async () => (await writer.close(), db.close()) };
};

describe('SQLite Pushgateway group log', () => {
  const dirs: { cleanup: () => void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('reloads exactly the last state after puts, deletes, wipes and compactions, with a bounded log', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = `${dir.path}/g.db`;
    const db = openDatabase(path, 'process');
    const slack = 8;
    const { log, close } = openLog(db, path, { slack });
    await log.load();
    const model = new Map<string, StoredGroup>();
    let maxRows = 0;
    // Deterministic pseudo-random workload over 40 keys, several compactions deep.
    let x = 12345;
    const rnd = (n: number): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    for (let step = 0; step < 3000; step++) {
      const key = `k${rnd(step < 1500 ? 40 : 10)}`; // later, only a few keys stay hot: older rows must survive compaction
      const r = rnd(100);
      if (step === 2000) {
        await log.write([{ wipe: true }]);
        model.clear();
      } else if (r < 10) {
        await log.write([{ delete: key }]);
        model.delete(key);
      } else {
        const batch = [group(key, step), group(`k${rnd(40)}`, step + 1)];
        await log.write(batch.map((g) => ({ put: g })));
        for (const g of batch) model.set(g.group_key, g);
      }
      maxRows = Math.max(maxRows, log.stats().rows);
      expect(log.stats().live).toBe(model.size);
    }
    // Bounded: two generations, one with re-appended rows (3 × live + 2 × (slack + batch)).
    expect(maxRows).toBeLessThanOrEqual(3 * 40 + 2 * (slack + 2));
    expect(maxRows).toBeGreaterThan(40); // compaction is not running on every write
    await close();

    const again = openLog(openDatabase(path, 'process'), path);
    const loaded = byKey(await again.log.load());
    await again.close();
    expect(loaded).toEqual(byKey([...model.values()]));
  });

  it('a failed transaction leaves the log and its index consistent', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = `${dir.path}/g.db`;
    const { log, close } = openLog(openDatabase(path, 'process'), path, { slack: 1 });
    await log.write([{ put: group('a', 1) }]);
    // The second put of this batch violates NOT NULL: the whole batch must roll back.
    const bad = { ...group('b', 2), group_key: null as unknown as string };
    await expect(log.write([{ put: group('c', 3) }, { put: bad }])).rejects.toThrow();
    expect(log.stats().live).toBe(1);
    expect([...byKey(await log.load()).keys()]).toEqual(['a']);
    await close();
  });

  it('migrates groups stored one row per group (schema version 2)', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = `${dir.path}/v2.db`;
    const raw = new Database(path);
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) raw.exec(m.sql);
    raw.pragma('user_version = 2');
    raw
      .prepare('INSERT INTO pushgateway_groups (group_key, labels, families, push_time, push_failure_time, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run('["job","old"]', JSON.stringify({ job: 'old' }), Buffer.from([9, 9]), 5, 6, null);
    expect(migrate(raw)).toBe(MIGRATIONS.at(-1)?.version);
    const { log, close } = openLog(raw, path);
    const groups = await log.load();
    await close();
    expect(groups).toEqual([{ group_key: '["job","old"]', labels: { job: 'old' }, families: new Uint8Array([9, 9]), push_time: 5, push_failure_time: 6 }]);
  });
});
