/**
 * Migration 5: a leaner event log and write-behind snapshots.
 * - The UNIQUE index on every event_id goes (it cost as much as the insert itself):
 *   only idempotency keys a client chose are indexed, in event_keys. Ids the agent
 *   assigned are time-ordered UUIDs and unique by construction.
 * - events_by_received goes: retention finds its cut-off by seq (received_at grows with seq).
 * - Columns nothing filters on go; one insert binds 7 values instead of 10.
 * - events_by_run is keyed by run_h, an integer hash of run_id (src/store/sqlite/run-hash.ts,
 *   registered as the SQL function run_hash): a 36-character key made that index cost more
 *   than the insert itself.
 * - jobs.snap_seq: the seq of the newest event a job's row (and its runs' rows) reflects;
 *   store_meta.replay_from: every event after it may be missing from the rows. At open,
 *   the events after replay_from whose seq is above their job's snap_seq are reduced again.
 */
export default `
CREATE TABLE event_keys (
  event_id TEXT PRIMARY KEY,
  run_id   TEXT NOT NULL,
  seq      INTEGER NOT NULL
) WITHOUT ROWID;
-- Which of the old ids a client chose is not known: keep them all as keys.
INSERT INTO event_keys (event_id, run_id, seq) SELECT event_id, run_id, seq FROM events;

-- Only what SQL filters or orders on gets a column; the event itself is the JSON in data
-- (rows written before this migration already hold the whole event there).
CREATE TABLE events_v3 (
  seq         INTEGER PRIMARY KEY,
  run_h       INTEGER NOT NULL,
  run_id      TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  applied     INTEGER NOT NULL,
  reason      TEXT,
  data        TEXT NOT NULL
);
INSERT INTO events_v3 SELECT seq, run_hash(run_id), run_id, received_at, applied, reason, data FROM events;
DROP TABLE events;
ALTER TABLE events_v3 RENAME TO events;
CREATE INDEX events_by_run ON events (run_h, seq);

ALTER TABLE jobs ADD COLUMN snap_seq INTEGER NOT NULL DEFAULT 0;

CREATE TABLE store_meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (key, value) VALUES ('replay_from', (SELECT COALESCE(MAX(seq), 0) FROM events));
`;
