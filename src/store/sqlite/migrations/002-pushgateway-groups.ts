/** Migration 2: groups pushed through the Pushgateway API, one row per grouping key. */
export default `
-- group_key: canonical JSON of the grouping labels; families: delimited protobuf MetricFamily messages.
CREATE TABLE pushgateway_groups (
  group_key         TEXT PRIMARY KEY,
  labels            TEXT NOT NULL,
  families          BLOB NOT NULL,
  push_time         INTEGER NOT NULL,
  push_failure_time INTEGER NOT NULL,
  expires_at        INTEGER
) WITHOUT ROWID;
`;
