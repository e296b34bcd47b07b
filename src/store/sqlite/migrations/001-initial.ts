/** Migration 1: jobs, runs and the append-only event log. */
export default `
-- jobs: one row per job_name; 'data' is the Job aggregate as JSON (counters, histogram).
CREATE TABLE jobs (
  job_name     TEXT PRIMARY KEY,
  last_seen_at INTEGER NOT NULL,
  data         TEXT NOT NULL
) WITHOUT ROWID;

-- runs: one row per run, the current snapshot; columns are what queries filter on.
CREATE TABLE runs (
  run_id           TEXT PRIMARY KEY,
  job_name         TEXT NOT NULL,
  parent_run_id    TEXT,
  state            TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  ended_at         INTEGER,
  duration_seconds REAL,
  data             TEXT NOT NULL
);
CREATE INDEX runs_by_job ON runs (job_name, created_at DESC);
CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_unfinished ON runs (job_name) WHERE ended_at IS NULL;
CREATE INDEX runs_by_end ON runs (ended_at) WHERE ended_at IS NOT NULL;

-- events: the append-only audit trail; event_id makes a retried delivery a no-op.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY,
  event_id    TEXT NOT NULL UNIQUE,
  run_id      TEXT NOT NULL,
  job_name    TEXT NOT NULL,
  event       TEXT NOT NULL,
  source      TEXT NOT NULL,
  timestamp   INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  applied     INTEGER NOT NULL,
  reason      TEXT,
  data        TEXT NOT NULL
);
CREATE INDEX events_by_run ON events (run_id, seq);
CREATE INDEX events_by_received ON events (received_at);
`;
