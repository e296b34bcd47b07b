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
 * `live` (key → seq of its row) is kept in memory; it is rebuilt by load. Seqs are assigned
 * here, and the writes run on the writer thread (src/store/sqlite/writer-thread.ts), one
 * `write` at a time: each one's ops are built on the `live` index the previous one left.
 */
import type { Db } from './open-database.js';
import type { Op, StatementSet, WriterThread } from './writer-thread.js';
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

export interface GroupLogStatements {
  append: number;
  tombstone: number;
  copyRow: number;
  deleteBelow: number;
  wipeAll: number;
}

export function prepareGroupLogStatements(w: StatementSet): GroupLogStatements {
  return {
    append: w.add(
      'INSERT INTO pushgateway_group_log (seq, group_key, labels, families, push_time, push_failure_time, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    tombstone: w.add('INSERT INTO pushgateway_group_log (seq, group_key) VALUES (?, ?)'),
    copyRow: w.add(
      `INSERT INTO pushgateway_group_log (seq, group_key, labels, families, push_time, push_failure_time, expires_at)
       SELECT ?, group_key, labels, families, push_time, push_failure_time, expires_at FROM pushgateway_group_log WHERE seq = ?`,
    ),
    deleteBelow: w.add('DELETE FROM pushgateway_group_log WHERE seq < ?'),
    wipeAll: w.add('DELETE FROM pushgateway_group_log'),
  };
}

export function createSqliteGroupLog(db: Db, writer: WriterThread, st: GroupLogStatements, opts: { slack?: number } = {}): GroupLogStore {
  const slack = opts.slack ?? 1024;
  const selectAll = db.prepare('SELECT seq, group_key, labels, families, push_time, push_failure_time, expires_at FROM pushgateway_group_log ORDER BY seq');

  const live = new Map<string, number>();
  let rows = 0;
  /** First seq of the current generation; rows below it belong to the previous one. */
  let boundary = 0;
  let appendedSinceCompaction = 0;
  let lastSeq = 0;

  /** Builds one write's ops and moves the in-memory index to where they leave the log. */
  function opsOf(ops: GroupWrite[]): { ops: Op[]; compactAt: number } {
    const out: Op[] = [];
    for (const op of ops) {
      if ('put' in op) {
        const g = op.put;
        const seq = ++lastSeq;
        out.push([st.append, seq, g.group_key, JSON.stringify(g.labels), g.families, g.push_time, g.push_failure_time, g.expires_at ?? null]);
        live.set(g.group_key, seq);
      } else if ('delete' in op) {
        if (!live.has(op.delete)) continue;
        out.push([st.tombstone, ++lastSeq, op.delete]);
        live.delete(op.delete);
      } else {
        out.push([st.wipeAll]);
        live.clear();
        rows = 0;
        appendedSinceCompaction = 0;
        continue;
      }
      rows += 1;
      appendedSinceCompaction += 1;
    }
    let compactAt = -1;
    if (appendedSinceCompaction > live.size + slack) {
      const cutoff = boundary;
      for (const [key, seq] of live) {
        if (seq >= cutoff) continue;
        const copy = ++lastSeq;
        out.push([st.copyRow, copy, seq]);
        live.set(key, copy);
        rows += 1;
      }
      compactAt = out.length;
      out.push([st.deleteBelow, cutoff]);
      boundary = lastSeq + 1;
      appendedSinceCompaction = 0;
    }
    return { ops: out, compactAt };
  }

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

  let chain: Promise<void> = Promise.resolve();
  async function write(ops: GroupWrite[]): Promise<void> {
    if (!loaded) await load();
    const built = opsOf(ops);
    if (built.ops.length === 0) return;
    try {
      const changes = await writer.run(built.ops, { changes: built.compactAt >= 0 });
      if (built.compactAt >= 0) rows -= changes?.[built.compactAt] ?? 0;
    } catch (err) {
      // The transaction rolled back: the in-memory index moved ahead of the file.
      await load();
      throw err;
    }
  }

  return {
    load,
    write(ops) {
      const p = chain.then(() => write(ops));
      chain = p.catch(() => undefined);
      return p;
    },
    stats: () => ({ rows, live: live.size }),
  };
}
