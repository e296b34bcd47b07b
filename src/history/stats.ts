/**
 * Run statistics over a window and the window before it: pure arithmetic over finished
 * runs, or the same figures aggregated by the store (`Store.runStats`, which must agree
 * with `summarizeWindow`: the conformance suite compares them).
 */
import { FAILURE_STATES } from '../domain/run.js';
import type { FinishedRun, RunStats, Store, WindowSummary } from '../store/store.js';

export type { RunStats, WindowSummary };

/** Nearest-rank quantile of a sorted array. */
export const quantile = (sorted: readonly number[], q: number): number | null =>
  sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number);

export function summarize(runs: readonly FinishedRun[]): RunStats {
  let succeeded = 0;
  let failed = 0;
  let cancelled = 0;
  const durations: number[] = [];
  for (const r of runs) {
    if (r.state === 'succeeded') succeeded += 1;
    else if (FAILURE_STATES.has(r.state)) failed += 1;
    else if (r.state === 'cancelled') cancelled += 1;
    if (r.duration_seconds !== null) durations.push(r.duration_seconds);
  }
  durations.sort((a, b) => a - b);
  const decided = succeeded + failed;
  return {
    runs: runs.length,
    succeeded,
    failed,
    cancelled,
    success_rate: decided === 0 ? null : succeeded / decided,
    duration_seconds: {
      avg: durations.length === 0 ? null : durations.reduce((a, b) => a + b, 0) / durations.length,
      p50: quantile(durations, 0.5),
      p95: quantile(durations, 0.95),
      max: durations.length === 0 ? null : (durations[durations.length - 1] as number),
    },
  };
}

const delta = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);

export function compareWindows(current: RunStats, previous: RunStats) {
  return {
    runs: current.runs - previous.runs,
    success_rate: delta(current.success_rate, previous.success_rate),
    p50_duration_seconds: delta(current.duration_seconds.p50, previous.duration_seconds.p50),
    p95_duration_seconds: delta(current.duration_seconds.p95, previous.duration_seconds.p95),
  };
}

export const NO_RUNS: RunStats = summarize([]);

/** A window's finished runs summarized overall and per job. */
export function summarizeWindow(runs: readonly FinishedRun[]): WindowSummary {
  const byJob = new Map<string, FinishedRun[]>();
  for (const r of runs) {
    const list = byJob.get(r.job_name);
    if (list) list.push(r);
    else byJob.set(r.job_name, [r]);
  }
  const jobs = new Map<string, RunStats>();
  for (const [name, list] of byJob) jobs.set(name, summarize(list));
  return { overall: summarize(runs), jobs };
}

/** The store's aggregate where it has one, else its finished runs summarized here. */
export async function windowSummary(store: Store, q: { job_name?: string; since: number; until: number }): Promise<WindowSummary> {
  return store.runStats ? store.runStats(q) : summarizeWindow(await store.finishedRuns(q));
}

export function windowStats(current: WindowSummary, previous: WindowSummary) {
  const names = [...new Set([...current.jobs.keys(), ...previous.jobs.keys()])].sort();
  return {
    overall: { ...current.overall, trend: compareWindows(current.overall, previous.overall) },
    jobs: names.map((job_name) => {
      const c = current.jobs.get(job_name) ?? NO_RUNS;
      const p = previous.jobs.get(job_name) ?? NO_RUNS;
      return { job_name, ...c, previous: p, trend: compareWindows(c, p) };
    }),
  };
}
