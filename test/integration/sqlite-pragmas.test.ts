/**
 * The pragmas the store's promises rest on: WAL, the durability level, and the page cache
 * size (better-sqlite3's own default of 16 MiB per connection was a tenth of our RSS).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/sqlite/open-database.js';
import { tempDir } from '../support/temp-dir.js';

describe('SQLite connection settings', () => {
  const open: Db[] = [];
  const dirs: { cleanup(): void }[] = [];
  afterEach(() => {
    for (const db of open.splice(0)) db.close();
    for (const d of dirs.splice(0)) d.cleanup();
  });
  const db = (...args: [durability: 'process' | 'power', cacheMb?: number]): Db => {
    const dir = tempDir();
    dirs.push(dir);
    const d = openDatabase(`${dir.path}/p.db`, ...args);
    open.push(d);
    return d;
  };

  it('uses WAL, synchronous=NORMAL for durability=process and FULL for power', () => {
    const p = db('process');
    expect(p.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(p.pragma('synchronous', { simple: true })).toBe(1);
    expect(db('power').pragma('synchronous', { simple: true })).toBe(2);
  });

  it('caps the page cache at 2 MiB unless told otherwise', () => {
    expect(db('process').pragma('cache_size', { simple: true })).toBe(-2048);
    expect(db('process', 24).pragma('cache_size', { simple: true })).toBe(-24 * 1024);
  });
});
