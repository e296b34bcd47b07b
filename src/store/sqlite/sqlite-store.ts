/**
 * The embedded default Store on better-sqlite3. Statements are prepared once. The
 * driver is synchronous; methods return promises only to satisfy the Store contract
 * shared with the Redis adapter.
 */
import type { Job } from '../../domain/job.js';
import type { Run, RunState } from '../../domain/run.js';
import { runDurationSeconds } from '../../domain/run.js';
import type { CommitBatch, FinishedRun, RunQuery, Store, StoredEvent } from '../store.js';
import { createSqliteGroupLog } from './group-log.js';
import { openDatabase, type Db } from './open-database.js';
import type { Durability } from '../../config/schema.js';
import { decodeCursor, encodeCursor } from '../run-cursor.js';

interface EventRow {
  seq: number;
  applied: number;
  reason: string | null;
  data: string;
}


/** Above this many ids a lookup is one json_each statement instead of one statement per id. */
const BULK_LOOKUP = 8;

export function createSqliteStore(opts: { path: string; durability: Durability }): Store {
  const db: Db = openDatabase(opts.path, opts.durability);

  const insertEvent = db.prepare(
    `INSERT INTO events (event_id, run_id, job_name, event, source, timestamp, received_at, applied, reason, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsertRun = db.prepare(
    `INSERT INTO runs (run_id, job_name, parent_run_id, state, created_at, ended_at, duration_seconds, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, parent_run_id = excluded.parent_run_id,
       ended_at = excluded.ended_at, duration_seconds = excluded.duration_seconds, data = excluded.data`,
  );
  const upsertJob = db.prepare(
    `INSERT INTO jobs (job_name, last_seen_at, data) VALUES (?, ?, ?)
     ON CONFLICT (job_name) DO UPDATE SET last_seen_at = excluded.last_seen_at, data = excluded.data`,
  );
  const selectJobs = db.prepare('SELECT data FROM jobs');
  const selectUnfinished = db.prepare('SELECT data FROM runs WHERE ended_at IS NULL');
  const selectRun = db.prepare('SELECT data FROM runs WHERE run_id = ?');
  const selectEventRun = db.prepare('SELECT run_id FROM events WHERE event_id = ?');
  // Many ids (a Kafka batch, a batched push) in one statement: per-id point lookups were 25% of
  // the writer's CPU in bench/kafka.mjs (1,250-event batches of new runs); one json_each join
  // over the same indexes cuts that CPU by about half. Few ids keep the point lookup.
  const selectEventRuns = db.prepare('SELECT event_id, run_id FROM events WHERE event_id IN (SELECT value FROM json_each(?))');
  const selectRunsById = db.prepare('SELECT data FROM runs WHERE run_id IN (SELECT value FROM json_each(?))');
  const selectEvents = db.prepare('SELECT seq, applied, reason, data FROM events WHERE run_id = ? ORDER BY seq');
  const selectRecentDurations = db.prepare(
    `SELECT duration_seconds AS d FROM runs WHERE job_name = ? AND state = 'succeeded' AND duration_seconds IS NOT NULL
     ORDER BY ended_at DESC LIMIT ?`,
  );
  const deleteEvents = db.prepare('DELETE FROM events WHERE received_at < ?');
  const deleteRuns = db.prepare(
    `DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ?
       AND run_id NOT IN (SELECT json_extract(data, '$.latest_run_id') FROM jobs)`,
  );

  const writeBatch = db.transaction((batch: CommitBatch) => {
    for (const { event: e, applied, reason } of batch.events) {
      insertEvent.run(e.event_id, e.run_id, e.job_name, e.event, e.source, e.timestamp, e.received_at, applied ? 1 : 0, reason ?? null, JSON.stringify(e));
    }
    for (const r of batch.runs) {
      upsertRun.run(r.run_id, r.job_name, r.parent_run_id ?? null, r.state, r.created_at, r.ended_at ?? null, runDurationSeconds(r) ?? null, JSON.stringify(r));
    }
    for (const j of batch.jobs) upsertJob.run(j.job_name, j.last_seen_at, JSON.stringify(j));
  });

  const groups = createSqliteGroupLog(db);

  let closed = false;
  return {
    kind: 'sqlite',
    groups,

    async loadState() {
      const jobs = selectJobs.all().map((r) => JSON.parse((r as { data: string }).data) as Job);
      const runs = new Map<string, Run>();
      for (const r of selectUnfinished.all()) {
        const run = JSON.parse((r as { data: string }).data) as Run;
        runs.set(run.run_id, run);
      }
      for (const j of jobs) {
        if (runs.has(j.latest_run_id)) continue;
        const row = selectRun.get(j.latest_run_id) as { data: string } | undefined;
        if (row) runs.set(j.latest_run_id, JSON.parse(row.data) as Run);
      }
      return { jobs, runs: [...runs.values()] };
    },

    async findEvents(ids) {
      const out = new Map<string, { run_id: string }>();
      if (ids.length > BULK_LOOKUP) {
        for (const r of selectEventRuns.all(JSON.stringify(ids)) as { event_id: string; run_id: string }[]) out.set(r.event_id, { run_id: r.run_id });
        return out;
      }
      for (const id of ids) {
        const row = selectEventRun.get(id) as { run_id: string } | undefined;
        if (row) out.set(id, row);
      }
      return out;
    },

    async getRuns(ids) {
      const out = new Map<string, Run>();
      if (ids.length > BULK_LOOKUP) {
        for (const r of selectRunsById.all(JSON.stringify(ids)) as { data: string }[]) {
          const run = JSON.parse(r.data) as Run;
          out.set(run.run_id, run);
        }
        return out;
      }
      for (const id of ids) {
        const row = selectRun.get(id) as { data: string } | undefined;
        if (row) out.set(id, JSON.parse(row.data) as Run);
      }
      return out;
    },

    async commit(batch) {
      writeBatch(batch);
    },

    async getRun(id) {
      const row = selectRun.get(id) as { data: string } | undefined;
      return row ? (JSON.parse(row.data) as Run) : undefined;
    },

    async listRuns(q: RunQuery) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (q.job_name !== undefined) {
        where.push('job_name = ?');
        args.push(q.job_name);
      }
      if (q.parent_run_id !== undefined) {
        where.push('parent_run_id = ?');
        args.push(q.parent_run_id);
      }
      if (q.states && q.states.length > 0) {
        where.push(`state IN (${q.states.map(() => '?').join(',')})`);
        args.push(...q.states);
      }
      const cur = q.cursor ? decodeCursor(q.cursor) : undefined;
      if (cur) {
        where.push('(created_at < ? OR (created_at = ? AND run_id < ?))');
        args.push(cur.created_at, cur.created_at, cur.run_id);
      }
      const sql = `SELECT data FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                   ORDER BY created_at DESC, run_id DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, q.limit + 1) as { data: string }[];
      const runs = rows.slice(0, q.limit).map((r) => JSON.parse(r.data) as Run);
      const last = runs[runs.length - 1];
      return rows.length > q.limit && last ? { runs, next_cursor: encodeCursor(last.created_at, last.run_id) } : { runs };
    },

    async listEvents(runId) {
      return (selectEvents.all(runId) as EventRow[]).map((r) => {
        const e: StoredEvent = { ...(JSON.parse(r.data) as StoredEvent), seq: r.seq, applied: r.applied === 1 };
        if (r.reason !== null) e.reason = r.reason;
        return e;
      });
    },

    async finishedRuns(q) {
      const sql = `SELECT job_name, state, ended_at, duration_seconds FROM runs
                   WHERE ended_at IS NOT NULL AND ended_at >= ? AND ended_at < ? ${q.job_name !== undefined ? 'AND job_name = ?' : ''}`;
      const args: unknown[] = [q.since, q.until];
      if (q.job_name !== undefined) args.push(q.job_name);
      return db.prepare(sql).all(...args) as FinishedRun[];
    },

    async recentDurations(jobName, limit) {
      return (selectRecentDurations.all(jobName, limit) as { d: number }[]).map((r) => r.d);
    },

    async prune(q) {
      const events = deleteEvents.run(q.eventsBefore).changes;
      const runs = deleteRuns.run(q.runsBefore).changes;
      return { events, runs };
    },

    async ping() {
      if (closed) throw new Error('store is closed');
      db.prepare('SELECT 1').get();
    },

    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}

export type { RunState };
