/**
 * Migration 6: drops runs_succeeded_by_job (migration 4). Learned baselines now read the
 * store once per job at start and then follow successes in memory (src/history/baselines.ts),
 * so the index no longer pays for itself: it was a fifth index on every run row, about 3.6 µs
 * of the writer's ~17 µs per new run (SQLite alone, batches of 1,250 finished runs).
 * `recentSuccesses` walks runs_by_job newest-created first instead.
 */
export default `
DROP INDEX IF EXISTS runs_succeeded_by_job;
`;
