/**
 * Learned duration baselines: p50 and p95 of the last N successful runs of each job.
 *
 * The window of each job is read from the store's history once (at start, or on
 * `refresh`) and then kept in memory, fed by the successes the state publishes. Reading
 * it from the store on every success made the store write its rows for that job at once,
 * which defeated the write-behind: 41% of ingest's CPU when every event finished a run
 * (bench/kafka.mjs). A baseline is recomputed lazily, on the first `get` after its window
 * changed, so a burst of successes costs one sort, and a scrape never queries the store.
 */
import type { Baseline } from '../sources/clock/detect.js';
import type { Logger } from '../runtime/logger.js';
import { runDurationSeconds } from '../domain/run.js';
import type { ChangeListener, JobState } from '../state/job-state.js';
import type { Store } from '../store/store.js';

export interface Baselines {
  get(jobName: string): Baseline | undefined;
  /** Reloads one job's window from the store. */
  refresh(jobName: string): Promise<void>;
  /**
   * Retention deleted the finished runs that ended before `before` (each job's latest run
   * kept): their successes leave the windows as well.
   */
  pruned(before: number): void;
  /** Loads every known job's window; then follows successes through the state. */
  start(): Promise<void>;
  /** Resolves when reloads queued so far are done (tests). */
  settled(): Promise<void>;
  stop(): void;
}

/** Nearest-rank percentile of ascending values. */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;

export function computeBaseline(durations: readonly number[], minSamples: number): Baseline | undefined {
  if (durations.length < minSamples || durations.length === 0) return undefined;
  const sorted = [...durations].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: sorted.length };
}

/**
 * The newest `size` successes of one job, oldest first. Two plain number arrays rather
 * than an object per run: at 10k jobs × 50 runs that is 8 MB instead of about 40 MB.
 */
export class SuccessWindow {
  private ended: number[] = [];
  private durations: number[] = [];
  private cached: Baseline | undefined;
  private stale = true;

  constructor(private readonly size: number) {}

  /**
   * Adds a success in (end time, duration) order. A success already held (same end and
   * duration) is ignored. Ties are ordered by duration, not arrival, so the window holds what
   * the store reads back at the next start (recentSuccesses), whichever came first.
   */
  add(endedAt: number, duration: number): void {
    let i = this.ended.length;
    while (i > 0 && ((this.ended[i - 1] as number) > endedAt || (this.ended[i - 1] === endedAt && (this.durations[i - 1] as number) > duration))) i--;
    // The same pair: a redelivered snapshot of a run already counted (Redis change feed).
    if (i > 0 && this.ended[i - 1] === endedAt && this.durations[i - 1] === duration) return;
    if (i === 0 && this.ended.length >= this.size) return;
    this.ended.splice(i, 0, endedAt);
    this.durations.splice(i, 0, duration);
    if (this.ended.length > this.size) {
      this.ended.shift();
      this.durations.shift();
    }
    this.stale = true;
  }

  /** Drops the successes that ended before `before`, except the pair `keep`. */
  dropBefore(before: number, keep?: readonly [number, number]): void {
    let n = 0;
    while (n < this.ended.length && (this.ended[n] as number) < before) n++;
    if (n === 0) return;
    const kept: number[] = [];
    for (let i = 0; i < n; i++) if (keep && this.ended[i] === keep[0] && this.durations[i] === keep[1]) kept.push(i);
    this.ended = [...kept.map((i) => this.ended[i] as number), ...this.ended.slice(n)];
    this.durations = [...kept.map((i) => this.durations[i] as number), ...this.durations.slice(n)];
    this.stale = true;
  }

  /** True when it holds no success. */
  empty(): boolean {
    return this.ended.length === 0;
  }

  baseline(minSamples: number): Baseline | undefined {
    if (this.stale) {
      this.cached = computeBaseline(this.durations, minSamples);
      this.stale = false;
    }
    return this.cached;
  }
}

export function createBaselines(deps: { store: Store; state: JobState; runs: number; minSamples: number; logger: Logger }): Baselines {
  const windows = new Map<string, SuccessWindow>();
  let chain: Promise<void> = Promise.resolve();
  let off: (() => void) | undefined;

  const refresh = async (jobName: string): Promise<void> => {
    try {
      const w = new SuccessWindow(deps.runs);
      for (const s of await deps.store.recentSuccesses(jobName, deps.runs)) w.add(s.ended_at, s.duration_seconds);
      windows.set(jobName, w);
    } catch (err) {
      deps.logger.warn('baseline refresh failed', { job_name: jobName, err });
    }
  };

  return {
    get: (name) => windows.get(name)?.baseline(deps.minSamples),
    refresh: (name) => (chain = chain.then(() => refresh(name))),
    pruned(before) {
      // Without this a restart read fewer successes back than memory held (a weekly job's 50
      // reach back a year, retention.runs 90 days), and job_expected_duration_seconds changed.
      for (const [name, w] of windows) {
        const latestId = deps.state.getJob(name)?.latest_run_id;
        const latest = latestId !== undefined ? deps.state.getRun(latestId) : undefined;
        const d = latest?.state === 'succeeded' && latest.ended_at !== undefined ? runDurationSeconds(latest) : undefined;
        w.dropBefore(before, d !== undefined ? [latest?.ended_at as number, d] : undefined);
        if (w.empty()) windows.delete(name);
      }
    },
    async start() {
      const take: ChangeListener = ({ runs, removed }) => {
        for (const name of removed ?? []) windows.delete(name);
        for (const r of runs) {
          if (r.state !== 'succeeded' || r.ended_at === undefined) continue;
          const d = runDurationSeconds(r);
          if (d === undefined) continue;
          let w = windows.get(r.job_name);
          if (!w) windows.set(r.job_name, (w = new SuccessWindow(deps.runs)));
          w.add(r.ended_at, d);
        }
      };
      // Listening before the read, and replaying what came during it after: on Redis the
      // follower installs other replicas' commits while the read is in flight, and a success
      // committed after its job was read was in neither, so a replica started under load kept
      // another baseline than the others until its window moved on. A success in both is
      // held once (same end and duration).
      let during: Parameters<ChangeListener>[0][] | undefined = [];
      off ??= deps.state.onChange((c) => (during ? during.push(c) : take(c)));
      try {
        const all = await deps.store.recentSuccessesOfAll?.(deps.runs);
        if (all) {
          for (const [name, successes] of all) {
            const w = new SuccessWindow(deps.runs);
            for (const s of successes) w.add(s.ended_at, s.duration_seconds);
            windows.set(name, w);
          }
        } else for (const job of deps.state.allJobs()) await refresh(job.job_name);
      } finally {
        const replay = during;
        during = undefined;
        for (const c of replay) take(c);
      }
    },
    settled: () => chain,
    stop: () => off?.(),
  };
}
