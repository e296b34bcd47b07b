/**
 * Migration 3: Pushgateway groups move from one row per group (updated in place) to an
 * append-only log (see group-log.ts). Updating random rows of a 10k-group table dirtied
 * one B-tree page per push (~50 µs per push at 10k groups); appending dirties the last page.
 * labels IS NULL marks a deletion (tombstone).
 */
export default `
CREATE TABLE pushgateway_group_log (
  seq               INTEGER PRIMARY KEY,
  group_key         TEXT NOT NULL,
  labels            TEXT,
  families          BLOB,
  push_time         INTEGER,
  push_failure_time INTEGER,
  expires_at        INTEGER
);
INSERT INTO pushgateway_group_log (group_key, labels, families, push_time, push_failure_time, expires_at)
  SELECT group_key, labels, families, push_time, push_failure_time, expires_at FROM pushgateway_groups ORDER BY group_key;
DROP TABLE pushgateway_groups;
`;
