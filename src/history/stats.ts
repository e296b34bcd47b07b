/** Run statistics over a window and the window before it: pure arithmetic over finished runs. */
import { FAILURE_STATES } from '../domain/run.js';
import type { FinishedRun } from '../store/store.js';

export interface RunStats {
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  success_rate: number | null;
  duration_seconds: { avg: number | null; p50: number | null; p95: number | null; max: number | null };
}

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

export function windowStats(current: readonly FinishedRun[], previous: readonly FinishedRun[]) {
  const group = (rs: readonly FinishedRun[]): Map<string, FinishedRun[]> => {
    const m = new Map<string, FinishedRun[]>();
    for (const r of rs) {
      const list = m.get(r.job_name);
      if (list) list.push(r);
      else m.set(r.job_name, [r]);
    }
    return m;
  };
  const cur = group(current);
  const prev = group(previous);
  const names = [...new Set([...cur.keys(), ...prev.keys()])].sort();
  const overall = summarize(current);
  const overallPrev = summarize(previous);
  return {
    overall: { ...overall, trend: compareWindows(overall, overallPrev) },
    jobs: names.map((job_name) => {
      const c = summarize(cur.get(job_name) ?? []);
      const p = summarize(prev.get(job_name) ?? []);
      return { job_name, ...c, previous: p, trend: compareWindows(c, p) };
    }),
  };
}
