/** Builds Store commit batches the way ingest does: the real lifecycle reducer over a sequence of events. */
import { applyToJob, type Job } from '../../src/domain/job.js';
import type { EventType, JobEvent } from '../../src/domain/job-event.js';
import { apply } from '../../src/domain/lifecycle.js';
import type { Run } from '../../src/domain/run.js';
import type { CommitBatch } from '../../src/store/store.js';

/** A tiny writer: reduces events with the real lifecycle and collects the batch snapshots. */
export class StoreWriter {
  readonly runs = new Map<string, Run>();
  readonly jobs = new Map<string, Job>();
  private n = 0;

  batch(specs: { run: string; job?: string; event: EventType; at: number; id?: string; parent?: string; records?: number }[]): CommitBatch {
    const runs = new Map<string, Run>();
    const jobs = new Map<string, Job>();
    const events: CommitBatch['events'] = [];
    for (const s of specs) {
      const e: JobEvent = {
        event_id: s.id ?? `ev-${++this.n}`,
        job_name: s.job ?? 'etl',
        run_id: s.run,
        event: s.event,
        source: 'push',
        timestamp: s.at,
        received_at: s.at,
        ...(s.parent !== undefined ? { parent_run_id: s.parent } : {}),
        ...(s.records !== undefined ? { records_processed: s.records } : {}),
      };
      const prev = this.runs.get(e.run_id);
      const out = apply(prev, e);
      if (out.applied) {
        this.runs.set(e.run_id, out.run);
        runs.set(e.run_id, out.run);
        const j = applyToJob(this.jobs.get(e.job_name), prev, out.run, e);
        this.jobs.set(e.job_name, j);
        jobs.set(e.job_name, j);
        events.push({ event: e, applied: true, keyed: s.id !== undefined });
      } else events.push({ event: e, applied: false, reason: out.reason, keyed: s.id !== undefined });
    }
    return { events, runs: [...runs.values()], jobs: [...jobs.values()] };
  }
}

