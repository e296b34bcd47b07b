/**
 * Pushgateway groups on SQLite as an append-only log (table pushgateway_group_log).
 *
 * Why a log and not one row per group: a PUT changes one group, and with 10k groups the
 * groups are spread over hundreds of B-tree pages. Updating rows in place dirtied one page
 * per push, so every group commit wrote (and later checkpointed) one 4 KiB page per push:
 * measured ~50 µs per push at 10k groups and batches of 64, the largest single cost of a
 * Pushgateway-API PUT. Appending puts every row of a commit on the last page (~13 µs).
 *
 * - put: appends the group's row; delete: appends a tombstone (labels NULL) if the group
 *   is live; wipe: deletes every row.
 * - load: replays the log in seq order; the last row of a key wins, a tombstone removes it.
 * - compaction (generational, in the transaction of the write that triggers it): once
 *   more rows were appended since the last compaction than there are live groups (plus
 *   `slack`), live rows older than the previous boundary are re-appended and every row
 *   below that boundary is deleted in one range (whole pages freed, no scattered updates).
 *   The log therefore holds at most about 3 × live groups + 2 × slack rows (two generations,
 *   one of them with re-appended rows), and each write pays at most one re-append amortised.
 * `live` (key → seq of its row) is kept in memory; it is rebuilt by load.
 */
import type { Db } from './open-database.js';
import type { GroupStore, GroupWrite, StoredGroup } from '../store.js';

interface LogRow {
  seq: number;
  group_key: string;
  labels: string | null;
  families: Buffer | null;
  push_time: number | null;
  push_failure_time: number | null;
  expires_at: number | null;
}

export interface GroupLogStore extends GroupStore {
  /** Rows in the log and live groups (for tests and the bench). */
  stats(): { rows: number; live: number };
}

export function createSqliteGroupLog(db: Db, opts: { slack?: number } = {}): GroupLogStore {
  const slack = opts.slack ?? 1024;
  const append = db.prepare(
    'INSERT INTO pushgateway_group_log (group_key, labels, families, push_time, push_failure_time, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const tombstone = db.prepare('INSERT INTO pushgateway_group_log (group_key) VALUES (?)');
  const copyRow = db.prepare(
    `INSERT INTO pushgateway_group_log (group_key, labels, families, push_time, push_failure_time, expires_at)
     SELECT group_key, labels, families, push_time, push_failure_time, expires_at FROM pushgateway_group_log WHERE seq = ?`,
  );
  const deleteBelow = db.prepare('DELETE FROM pushgateway_group_log WHERE seq < ?');
  const wipeAll = db.prepare('DELETE FROM pushgateway_group_log');
  const selectAll = db.prepare('SELECT seq, group_key, labels, families, push_time, push_failure_time, expires_at FROM pushgateway_group_log ORDER BY seq');

  const live = new Map<string, number>();
  let rows = 0;
  /** First seq of the current generation; rows below it belong to the previous one. */
  let boundary = 0;
  let appendedSinceCompaction = 0;
  let lastSeq = 0;

  const appended = (seq: number | bigint): number => {
    lastSeq = Number(seq);
    rows += 1;
    appendedSinceCompaction += 1;
    return lastSeq;
  };

  function compact(): void {
    const cutoff = boundary;
    for (const [key, seq] of live) {
      if (seq < cutoff) live.set(key, appended(copyRow.run(seq).lastInsertRowid));
    }
    rows -= deleteBelow.run(cutoff).changes;
    boundary = lastSeq + 1;
    appendedSinceCompaction = 0;
  }

  const writeTx = db.transaction((ops: GroupWrite[]) => {
    for (const op of ops) {
      if ('put' in op) {
        const g = op.put;
        const seq = appended(
          append.run(g.group_key, JSON.stringify(g.labels), Buffer.from(g.families.buffer, g.families.byteOffset, g.families.byteLength), g.push_time, g.push_failure_time, g.expires_at ?? null).lastInsertRowid,
        );
        live.set(g.group_key, seq);
      } else if ('delete' in op) {
        if (!live.has(op.delete)) continue;
        appended(tombstone.run(op.delete).lastInsertRowid);
        live.delete(op.delete);
      } else {
        wipeAll.run();
        live.clear();
        rows = 0;
      }
    }
    if (appendedSinceCompaction > live.size + slack) compact();
  });

  let loaded = false;
  async function load(): Promise<StoredGroup[]> {
    loaded = true;
    {
      const byKey = new Map<string, LogRow>();
      live.clear();
      rows = 0;
      for (const r of selectAll.iterate() as IterableIterator<LogRow>) {
        rows += 1;
        lastSeq = r.seq;
        if (r.labels === null) byKey.delete(r.group_key);
        else byKey.set(r.group_key, r);
      }
      // Everything loaded is the previous generation: the next compaction may fold it.
      boundary = lastSeq + 1;
      appendedSinceCompaction = 0;
      const out: StoredGroup[] = [];
      for (const r of byKey.values()) {
        live.set(r.group_key, r.seq);
        const g: StoredGroup = {
          group_key: r.group_key,
          labels: JSON.parse(r.labels as string) as Record<string, string>,
          families: new Uint8Array(r.families as Buffer),
          push_time: r.push_time as number,
          push_failure_time: r.push_failure_time as number,
        };
        if (r.expires_at !== null) g.expires_at = r.expires_at;
        out.push(g);
      }
      return out;
    }
  }

  return {
    load,
    async write(ops) {
      if (!loaded) await load();
      try {
        writeTx(ops);
      } catch (err) {
        // The transaction rolled back: the in-memory index may have moved ahead of the file.
        await load();
        throw err;
      }
    },
    stats: () => ({ rows, live: live.size }),
  };
}
