/** Row shapes and row writers shared by the SQLite store and its crash recovery. */
import type { Job } from '../../domain/job.js';
import { runDurationSeconds, type Run } from '../../domain/run.js';
import type { StoredEvent } from '../store.js';
import type { Db } from './open-database.js';

export interface EventRow {
  seq: number;
  run_id: string;
  received_at: number;
  applied: number;
  reason: string | null;
  /** The whole event as JSON. */
  data: string;
}

export const eventOfRow = (r: EventRow): StoredEvent => {
  const e = JSON.parse(r.data) as StoredEvent;
  e.seq = r.seq;
  e.applied = r.applied === 1;
  if (r.reason !== null) e.reason = r.reason;
  return e;
};

export const UPSERT_RUN_SQL = `INSERT INTO runs (run_id, job_name, parent_run_id, state, created_at, ended_at, duration_seconds, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, parent_run_id = excluded.parent_run_id,
       ended_at = excluded.ended_at, duration_seconds = excluded.duration_seconds, data = excluded.data`;
export const UPSERT_JOB_SQL = `INSERT INTO jobs (job_name, last_seen_at, data, snap_seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (job_name) DO UPDATE SET last_seen_at = excluded.last_seen_at, data = excluded.data, snap_seq = excluded.snap_seq`;

/** A run's events since its last chunk; replaced if one starting at the same seq exists (crash replay). */
export const INSERT_CHUNK_SQL = 'INSERT OR REPLACE INTO run_events (run_id, first_seq, last_seq, seqs) VALUES (?, ?, ?, ?)';
/** Parameters of INSERT_CHUNK_SQL: seqs in ascending order. */
export const chunkRow = (runId: string, seqs: number[]): unknown[] => [runId, seqs[0], seqs[seqs.length - 1], JSON.stringify(seqs)];

/** Parameters of UPSERT_RUN_SQL. */
export const runRow = (r: Run): unknown[] => [
  r.run_id,
  r.job_name,
  r.parent_run_id ?? null,
  r.state,
  r.created_at,
  r.ended_at ?? null,
  runDurationSeconds(r) ?? null,
  JSON.stringify(r),
];
/** Parameters of UPSERT_JOB_SQL. */
export const jobRow = (j: Job, snapSeq: number): unknown[] => [j.job_name, j.last_seen_at, JSON.stringify(j), snapSeq];

/** Row writers on a connection of the caller's thread (crash recovery at open). */
export function prepareRowWriters(db: Db): { writeRun(r: Run): void; writeJob(j: Job, snapSeq: number): void; writeChunk(runId: string, seqs: number[]): void } {
  const upsertRun = db.prepare(UPSERT_RUN_SQL);
  const upsertJob = db.prepare(UPSERT_JOB_SQL);
  const insertChunk = db.prepare(INSERT_CHUNK_SQL);
  return {
    writeRun: (r) => void upsertRun.run(...runRow(r)),
    writeJob: (j, snapSeq) => void upsertJob.run(...jobRow(j, snapSeq)),
    writeChunk: (runId, seqs) => void insertChunk.run(...chunkRow(runId, seqs)),
  };
}
