/**
 * Migration 7: a run's events are found through run_events, not an index on every event.
 *
 * events_by_run (run_h, seq) took one insert at a random place in a B-tree per event: with
 * 1,000 runs busy at once, each commit dirtied a leaf page per run, and the WAL carried
 * ~2.3 KB per event instead of ~270 bytes (an insert cost 10.6 µs instead of 4.1, SQLite
 * alone, checkpoints included). run_events holds chunks: per run, the seqs of its events
 * that one write-behind flush (or one crash-recovery replay) covered, as a JSON array. They
 * are written with the run and job rows, at most once per job per flush interval.
 * Dropping run_h rewrites the table once.
 */
export default `
CREATE TABLE run_events (
  run_id    TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq  INTEGER NOT NULL,
  seqs      TEXT NOT NULL,
  PRIMARY KEY (run_id, first_seq)
) WITHOUT ROWID;
INSERT INTO run_events (run_id, first_seq, last_seq, seqs)
  SELECT run_id, MIN(seq), MAX(seq), json_group_array(seq) FROM events GROUP BY run_id;
DROP INDEX events_by_run;
ALTER TABLE events DROP COLUMN run_h;
`;
