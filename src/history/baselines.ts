/**
 * Learned duration baselines: p50 and p95 of the last N successful runs of each job,
 * read from the store's history. Cached in memory: computed for every job at start and
 * again when one of its runs succeeds, never per scrape (a scrape reads the cache).
 */
import type { Baseline } from '../sources/clock/detect.js';
import type { Logger } from '../runtime/logger.js';
import type { JobState } from '../state/job-state.js';
import type { Store } from '../store/store.js';

export interface Baselines {
  get(jobName: string): Baseline | undefined;
  /** Recomputes one job's baseline from the store. */
  refresh(jobName: string): Promise<void>;
  /** Computes every known job's baseline; then follows successes through the state. */
  start(): Promise<void>;
  /** Resolves when refreshes queued so far are done (tests). */
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

export function createBaselines(deps: { store: Store; state: JobState; runs: number; minSamples: number; logger: Logger }): Baselines {
  const cache = new Map<string, Baseline>();
  const dirty = new Set<string>();
  let chain: Promise<void> = Promise.resolve();
  let off: (() => void) | undefined;

  const refresh = async (jobName: string): Promise<void> => {
    try {
      const b = computeBaseline(await deps.store.recentDurations(jobName, deps.runs), deps.minSamples);
      if (b) cache.set(jobName, b);
      else cache.delete(jobName);
    } catch (err) {
      deps.logger.warn('baseline refresh failed', { job_name: jobName, err });
    }
  };
  const flush = (): void => {
    const names = [...dirty];
    dirty.clear();
    chain = chain.then(async () => {
      for (const n of names) await refresh(n);
    });
  };

  return {
    get: (name) => cache.get(name),
    refresh,
    async start() {
      for (const job of deps.state.allJobs()) await refresh(job.job_name);
      off ??= deps.state.onChange(({ runs }) => {
        const before = dirty.size;
        for (const r of runs) if (r.state === 'succeeded' && r.ended_at !== undefined) dirty.add(r.job_name);
        if (dirty.size > before) setImmediate(flush);
      });
    },
    settled: async () => {
      await new Promise((r) => setImmediate(r));
      await chain;
    },
    stop: () => off?.(),
  };
}
