/**
 * Crash recovery for write-behind rows: reduces the events that the runs/jobs rows had
 * not caught up with when the process died, with the same pure reducer ingest uses, and
 * writes the rows. Events at or below a job's `snap_seq` are already in its rows (and in its
 * runs' run_events chunks); events the lifecycle did not apply the first time changed nothing
 * then and are not reduced again, but they get their chunk like the others.
 */
import { applyToJob, type Job } from '../../domain/job.js';
import { apply } from '../../domain/lifecycle.js';
import type { Run } from '../../domain/run.js';
import type { Db } from './open-database.js';
import { eventOfRow, prepareRowWriters, type EventRow } from './rows.js';

export function replayTail(db: Db, lastSeq: number): number {
  const from = (db.prepare(`SELECT value FROM store_meta WHERE key = 'replay_from'`).get() as { value: number }).value;
  if (from >= lastSeq) return 0;
  const selectJob = db.prepare('SELECT data, snap_seq FROM jobs WHERE job_name = ?');
  const selectRun = db.prepare('SELECT data FROM runs WHERE run_id = ?');
  const jobs = new Map<string, { job: Job | undefined; snap: number }>();
  const runs = new Map<string, Run | undefined>();
  const touchedJobs = new Set<string>();
  const touchedRuns = new Set<string>();
  const seqsOfRun = new Map<string, number[]>();
  let replayed = 0;
  for (const row of db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq').iterate(from)) {
    const e = eventOfRow(row as EventRow);
    let j = jobs.get(e.job_name);
    if (!j) {
      const jr = selectJob.get(e.job_name) as { data: string; snap_seq: number } | undefined;
      j = { job: jr ? (JSON.parse(jr.data) as Job) : undefined, snap: jr?.snap_seq ?? 0 };
      jobs.set(e.job_name, j);
    }
    if (e.seq <= j.snap) continue;
    const seqs = seqsOfRun.get(e.run_id);
    if (seqs) seqs.push(e.seq);
    else seqsOfRun.set(e.run_id, [e.seq]);
    if (!e.applied) continue;
    if (!runs.has(e.run_id)) {
      const rr = selectRun.get(e.run_id) as { data: string } | undefined;
      runs.set(e.run_id, rr ? (JSON.parse(rr.data) as Run) : undefined);
    }
    const prev = runs.get(e.run_id);
    const { seq: _s, applied: _a, reason: _r, ...event } = e;
    const out = apply(prev, event);
    if (!out.applied) continue;
    runs.set(e.run_id, out.run);
    j.job = applyToJob(j.job, prev, out.run, event);
    touchedJobs.add(e.job_name);
    touchedRuns.add(e.run_id);
    replayed++;
  }
  const { writeRun, writeJob, writeChunk } = prepareRowWriters(db);
  db.transaction(() => {
    for (const id of touchedRuns) {
      writeRun(runs.get(id) as Run);
    }
    for (const [id, seqs] of seqsOfRun) writeChunk(id, seqs);
    for (const name of touchedJobs) {
      writeJob(jobs.get(name)?.job as Job, lastSeq);
    }
    db.prepare(`UPDATE store_meta SET value = ? WHERE key = 'replay_from'`).run(lastSeq);
  })();
  return replayed;
}
