/**
 * `Store.runStats` in SQL: the arithmetic of src/history/stats.ts `summarize` (nearest-rank
 * quantiles, average over known durations, success rate over succeeded + failed), done by
 * SQLite so that a window of 100k runs comes back as one row per job, not 100k rows.
 */
import { FAILURE_STATES } from '../../domain/run.js';
import type { RunStats } from '../store.js';

/** Nearest rank, 1-based: ceil(q * n) in integers (q in hundredths), never below 1. */
const rank = (hundredths: number): string => `max(1, (n * ${hundredths} + 99) / 100)`;

/**
 * One row per job (`perJob`), or one row for all the runs asked for (job_name ''); the
 * window's bounds are the first two parameters, the job's name the third with `oneJob`.
 */
export function runStatsSql(opts: { perJob: boolean; oneJob: boolean }): string {
  const failed = [...FAILURE_STATES].map((s) => `'${s}'`).join(', ');
  // MATERIALIZED: the window is read once for both the counts and the ranks (inlined, twice).
  return `
WITH w AS MATERIALIZED (
  SELECT ${opts.perJob ? 'job_name' : "'' AS job_name"}, state, duration_seconds AS d FROM runs
  WHERE ended_at IS NOT NULL AND ended_at >= ? AND ended_at < ?${opts.oneJob ? ' AND job_name = ?' : ''}
),
r AS (
  SELECT job_name, d, row_number() OVER (PARTITION BY job_name ORDER BY d) AS rn, count(*) OVER (PARTITION BY job_name) AS n
  FROM w WHERE d IS NOT NULL
),
q AS (
  SELECT job_name, max(CASE WHEN rn = ${rank(50)} THEN d END) AS p50, max(CASE WHEN rn = ${rank(95)} THEN d END) AS p95
  FROM r WHERE rn IN (${rank(50)}, ${rank(95)}) GROUP BY job_name
),
c AS (
  SELECT job_name, count(*) AS runs, sum(state = 'succeeded') AS succeeded, sum(state IN (${failed})) AS failed,
         sum(state = 'cancelled') AS cancelled, count(d) AS durations, total(d) AS total, max(d) AS max
  FROM w GROUP BY job_name
)
SELECT c.*, q.p50, q.p95 FROM c LEFT JOIN q USING (job_name)`;
}

export interface RunStatsRow {
  job_name: string;
  runs: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  durations: number;
  total: number;
  max: number | null;
  p50: number | null;
  p95: number | null;
}

/** A window without runs (SQL's GROUP BY gives no row for it). */
export const NO_RUNS_ROW: RunStatsRow = { job_name: '', runs: 0, succeeded: 0, failed: 0, cancelled: 0, durations: 0, total: 0, max: null, p50: null, p95: null };

export function runStatsOfRow(r: RunStatsRow): RunStats {
  const decided = r.succeeded + r.failed;
  return {
    runs: r.runs,
    succeeded: r.succeeded,
    failed: r.failed,
    cancelled: r.cancelled,
    success_rate: decided === 0 ? null : r.succeeded / decided,
    duration_seconds: {
      avg: r.durations === 0 ? null : r.total / r.durations,
      p50: r.durations === 0 ? null : r.p50,
      p95: r.durations === 0 ? null : r.p95,
      max: r.durations === 0 ? null : r.max,
    },
  };
}
