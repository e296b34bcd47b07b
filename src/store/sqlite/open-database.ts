/**
 * Opens the SQLite file with the pragmas our durability promise depends on, and
 * applies pending migrations.
 *
 * Durability settings (config `store.sqlite.durability`):
 * - `process` (default): WAL + synchronous=NORMAL. A commit is in the WAL file (OS page
 *   cache) before the push is acknowledged: it survives `kill -9` of the agent, not a
 *   power loss of the machine.
 * - `power`: WAL + synchronous=FULL. Every group commit fsyncs the WAL: survives a power
 *   loss too, at the cost of one fsync per group commit.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Durability } from '../../config/schema.js';
import { MIGRATIONS } from './migrations/index.js';
import { runHash } from './run-hash.js';

export type Db = Database.Database;

/**
 * better-sqlite3 builds SQLite with a 16 MiB page cache per connection. The database file
 * sits in the OS page cache anyway, so a miss costs a pread, not a disk read: 2 MiB
 * measured no slower on the 10k-job push bench, and 16 MiB was a tenth of the agent's RSS.
 */
export const DEFAULT_CACHE_MB = 2;
export const cacheKib = (mb: number | undefined): number => Math.round((mb ?? DEFAULT_CACHE_MB) * 1024);

export function openDatabase(path: string, durability: Durability, cacheMb?: number): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  db.pragma(`cache_size = -${cacheKib(cacheMb)}`);
  // Checkpoints are left to SQLite's automatic 1000-page threshold; WAL growth is bounded by it.
  migrate(db);
  return db;
}

export function migrate(db: Db): number {
  // Migration 5 keys the event log by this hash; SQL has no way to compute it.
  db.function('run_hash', { deterministic: true }, (id: unknown) => runHash(String(id)));
  const current = db.pragma('user_version', { simple: true }) as number;
  const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  // A file a newer jobpulse migrated (a rolled-back upgrade): this build's statements may not
  // fit its tables, and it would only find out push by push. Refuse it at start instead.
  if (current > known)
    throw new Error(`the database is at schema version ${current}, newer than this jobpulse knows (${known}): run the jobpulse version that wrote it, or a newer one`);
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
