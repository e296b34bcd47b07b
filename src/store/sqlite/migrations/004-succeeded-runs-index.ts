/**
 * Migration 4: an index for learned baselines. `recentDurations` (the last N successful
 * runs of a job, newest end first) used runs_by_job and then filtered and sorted every run
 * of the job; refreshed after each success, that grew with the job's history (22% of the
 * agent's CPU in bench/kafka.mjs at 1,000 runs per job). This partial index matches the
 * query's WHERE and ORDER BY, so it reads N rows.
 */
export default `
CREATE INDEX runs_succeeded_by_job ON runs (job_name, ended_at DESC)
  WHERE state = 'succeeded' AND duration_seconds IS NOT NULL;
`;
