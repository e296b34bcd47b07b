/**
 * The in-memory current picture: every job, every unfinished run and each job's
 * latest run. Loaded from the store at start, changed only by ingest's writer after
 * a commit (`publish`), read by metrics, the REST API and the detectors.
 */
import type { Job } from '../domain/job.js';
import { isTerminal, type Run } from '../domain/run.js';

/** `removed`: jobs deleted (DELETE /api/v1/jobs/…), with their runs; listeners drop what they keep of them. */
export type ChangeListener = (change: { jobs: readonly Job[]; runs: readonly Run[]; removed?: readonly string[] }) => void;

export class JobState {
  private readonly jobs = new Map<string, Job>();
  private readonly runs = new Map<string, Run>();
  private readonly listeners = new Set<ChangeListener>();

  constructor(initial?: { jobs: Job[]; runs: Run[] }) {
    if (initial) {
      for (const j of initial.jobs) this.jobs.set(j.job_name, j);
      for (const r of initial.runs) this.runs.set(r.run_id, r);
    }
  }

  get jobCount(): number {
    return this.jobs.size;
  }

  getJob(name: string): Job | undefined {
    return this.jobs.get(name);
  }

  getRun(id: string): Run | undefined {
    return this.runs.get(id);
  }

  latestRun(job: Job): Run | undefined {
    return this.runs.get(job.latest_run_id);
  }

  allJobs(): IterableIterator<Job> {
    return this.jobs.values();
  }

  /** Unfinished runs (and latest runs of jobs, which may be finished). */
  allRuns(): IterableIterator<Run> {
    return this.runs.values();
  }

  /** The newest unfinished run of a job, if any: where an event without run_id goes. */
  activeRunOf(jobName: string): Run | undefined {
    const job = this.jobs.get(jobName);
    if (!job) return undefined;
    const latest = this.runs.get(job.latest_run_id);
    return latest && !isTerminal(latest.state) ? latest : undefined;
  }

  /** Installs committed snapshots. Only ingest's writer calls this. */
  publish(jobs: readonly Job[], runs: readonly Run[]): void {
    const replacedLatest: string[] = [];
    for (const j of jobs) {
      const prev = this.jobs.get(j.job_name);
      if (prev && prev.latest_run_id !== j.latest_run_id) replacedLatest.push(prev.latest_run_id);
      this.jobs.set(j.job_name, j);
    }
    for (const r of runs) this.runs.set(r.run_id, r);
    // Finished runs stay in memory only while they are their job's latest.
    for (const id of replacedLatest) this.evictFinished(id);
    for (const r of runs) if (isTerminal(r.state)) this.evictFinished(r.run_id);
    for (const l of this.listeners) l({ jobs, runs });
  }

  /**
   * Forgets a deleted job and every run of it memory holds. Only ingest's writer calls this
   * (with nothing of that job in flight), or the follower for a deletion on another replica.
   */
  remove(jobName: string): void {
    if (!this.jobs.delete(jobName)) return;
    for (const [id, r] of this.runs) if (r.job_name === jobName) this.runs.delete(id);
    for (const l of this.listeners) l({ jobs: [], runs: [], removed: [jobName] });
  }

  private evictFinished(runId: string): void {
    const r = this.runs.get(runId);
    if (!r || !isTerminal(r.state)) return;
    const job = this.jobs.get(r.job_name);
    if (job && job.latest_run_id !== runId) this.runs.delete(runId);
  }

  onChange(l: ChangeListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
