/**
 * Every metric name the agent exposes, with its type and help text. The collector,
 * the contract test, the rules tests and the dashboard check import this module so a
 * renamed metric breaks them all at once.
 */
export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricName {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
}

const m = (name: string, type: MetricType, help: string, labels: readonly string[] = ['job_name']): MetricName => ({
  name,
  type,
  help,
  labels,
});

/** Per-job families, rendered from state at scrape time. `job_name` is the logical job. */
export const JOB_METRICS = {
  status: m('job_status', 'gauge', 'State of the current or last run of the job: 1 for its state, 0 for the others.', ['job_name', 'state']),
  startTime: m('job_start_time_seconds', 'gauge', 'Unix time the current or last run started.'),
  endTime: m('job_end_time_seconds', 'gauge', 'Unix time the last run ended (absent while it runs).'),
  lastSuccess: m('job_last_success_time_seconds', 'gauge', 'Unix time the job last succeeded.'),
  lastFailure: m('job_last_failure_time_seconds', 'gauge', 'Unix time the job last failed, timed out or crashed.'),
  lastHeartbeat: m('job_last_heartbeat_time_seconds', 'gauge', 'Unix time of the last sign of life (start, heartbeat, progress) of the running run.'),
  progress: m('job_progress_percent', 'gauge', 'Progress of the running run, 0 to 100.'),
  duration: m('job_duration_seconds', 'gauge', 'Duration of the last finished run.'),
  runDuration: m('job_run_duration_seconds', 'histogram', 'Durations of finished runs.'),
  expectedDuration: m('job_expected_duration_seconds', 'gauge', 'Expected duration of a run: the configured max_duration, else the learned p95 of recent successful runs.'),
  runs: m('job_runs_total', 'counter', 'Finished runs by outcome.', ['job_name', 'outcome']),
  failures: m('job_failures_total', 'counter', 'Runs that failed, timed out or crashed.'),
  stuck: m('job_stuck', 'gauge', '1 while a running run of the job has shown no progress or heartbeat for stuck_after.'),
  overdue: m('job_overdue', 'gauge', '1 while a running run of the job has outlived its max_duration (jobs configured to flag rather than time out).'),
  recordsProcessed: m('job_records_processed_total', 'counter', 'Records processed, as reported by the job\'s runs.'),
  errors: m('job_errors_total', 'counter', 'Errors, as reported by the job\'s runs.'),
  retries: m('job_retries_total', 'counter', 'Runs started as a retry (retry_attempt > 0).'),
  batches: m('job_batches', 'gauge', 'Child runs (batches) of the job\'s current or last parent run, by state.', ['job_name', 'state']),
  missedRuns: m('job_missed_runs_total', 'counter', 'Scheduled runs that did not start within grace of their expected time.'),
  nextExpected: m('job_next_expected_run_time_seconds', 'gauge', 'Unix time of the next expected start of a scheduled job.'),
  maxAge: m('job_max_age_seconds', 'gauge', 'Configured max_age: the longest acceptable time between successes.'),
  firstSeen: m('job_first_seen_time_seconds', 'gauge', 'Unix time the agent first saw the job (exposed with max_age: a job that never succeeded pages once this is older than max_age).'),
  minDuration: m('job_min_duration_seconds', 'gauge', 'Configured min_duration: a success faster than this is flagged too short.'),
  tooShort: m('job_too_short', 'gauge', '1 when the last run succeeded suspiciously fast (min_duration or the learned p50 factor).'),
} as const;

/** The agent's own health. */
export const SELF_METRICS = {
  events: m('jobpulse_events_total', 'counter', 'Events received, by source and result (applied, recorded, duplicate).', ['source', 'result']),
  rejected: m('jobpulse_events_rejected_total', 'counter', 'Events refused, by source and reason.', ['source', 'reason']),
  commitDuration: m('jobpulse_store_commit_duration_seconds', 'histogram', 'Time of one group commit (store write and state publish).', []),
  commitEvents: m('jobpulse_store_commit_events', 'histogram', 'Events per group commit.', []),
  storeErrors: m('jobpulse_store_errors_total', 'counter', 'Failed store commits.', []),
  storeFsAvail: m('jobpulse_store_filesystem_avail_bytes', 'gauge', 'Bytes the agent may still write on the file system of its SQLite store (statfs at scrape time).', []),
  storeFsSize: m('jobpulse_store_filesystem_size_bytes', 'gauge', 'Size in bytes of the file system of the SQLite store.', []),
  pending: m('jobpulse_ingest_pending_events', 'gauge', 'Events waiting for the writer.', []),
  jobs: m('jobpulse_jobs', 'gauge', 'Jobs known to the agent, by whether they are exposed or idle past the TTL.', ['status']),
  httpRequests: m('jobpulse_http_requests_total', 'counter', 'HTTP requests by route and status code.', ['method', 'route', 'code']),
  httpDuration: m('jobpulse_http_request_duration_seconds', 'histogram', 'HTTP request latency by route.', ['route']),
  retentionPruned: m('jobpulse_retention_pruned_total', 'counter', 'Rows removed by retention, by kind.', ['kind']),
  pushgatewayGroups: m('jobpulse_pushgateway_groups', 'gauge', 'Groups held by the Pushgateway API.', []),
  pushgatewayPushes: m('jobpulse_pushgateway_requests_total', 'counter', 'Pushgateway API pushes and deletes by method and status code.', ['method', 'code']),
  pushgatewayExpired: m('jobpulse_pushgateway_groups_expired_total', 'counter', 'Pushed groups removed because their TTL passed.', []),
  pushgatewayBridgeFailures: m('jobpulse_pushgateway_bridge_failures_total', 'counter', 'Pushes whose derived run events could not be ingested.', []),
  pings: m('jobpulse_pings_total', 'counter', 'Ping URL requests by kind (success, start, fail, exit_status).', ['kind']),
  detectorSweepDuration: m('jobpulse_detector_sweep_duration_seconds', 'histogram', 'Duration of one detector sweep (detect, schedule checks, durable commit of the verdicts).', []),
  detectorVerdicts: m('jobpulse_detector_verdicts_total', 'counter', 'Detector verdicts handed to ingest, by whether they changed a run (applied) or were stale/duplicate.', ['result']),
  sparkPolls: m('jobpulse_spark_polls_total', 'counter', 'Requests the Spark poller made, by cluster and result (ok, not_found, timeout, http_error, invalid_json, too_large, connection_error, unexpected).', ['cluster', 'result']),
  sparkPollDuration: m('jobpulse_spark_poll_duration_seconds', 'histogram', 'Latency of one Spark API request, by cluster.', ['cluster']),
  sparkCycleDuration: m('jobpulse_spark_cycle_duration_seconds', 'histogram', 'Duration of one poll cycle over all tracked runs of a cluster.', ['cluster']),
  sparkTrackedRuns: m('jobpulse_spark_tracked_runs', 'gauge', 'Unfinished runs the Spark poller follows, by cluster.', ['cluster']),
  buildInfo: m('jobpulse_build_info', 'gauge', 'Always 1; labels carry the version.', ['version']),
  leaseHeld: m('jobpulse_lease_held', 'gauge', '1 while this replica holds the lease of a singleton source (spark, clock), else 0. Present only with store.kind redis.', ['lease']),
  fencedEvents: m('jobpulse_lease_fenced_events_total', 'counter', 'Events of a leased singleton source refused by the store because a newer leader had taken the lease (a paused or cut-off old leader), by lease.', ['lease']),
} as const;

/** The Kafka consumer's health (present only when kafka.brokers is configured). */
export const KAFKA_METRICS = {
  messages: m('jobpulse_kafka_messages_total', 'counter', 'Kafka messages consumed, by result: ok, or the poison reason (invalid_json, invalid_shape, unknown_status, oversize, refused).', ['result']),
  lag: m('jobpulse_kafka_consumer_lag', 'gauge', 'Messages in the partition after the group\'s committed offset (this member\'s partitions): updated after every batch and every kafka.lag_interval.', ['topic', 'partition']),
  connected: m('jobpulse_kafka_connected', 'gauge', '1 while the consumer has joined its group and heard from the brokers within kafka.session_timeout, else 0.', []),
  deadLetters: m('jobpulse_kafka_dead_letter_messages_total', 'counter', 'Poison messages copied to the dead-letter topic, by result (ok, failed).', ['result']),
} as const;

export const ALL_METRICS: readonly MetricName[] = [
  ...Object.values(JOB_METRICS),
  ...Object.values(SELF_METRICS),
  ...Object.values(KAFKA_METRICS),
];

/**
 * The sample and family names a family of this type shows in the text format and in
 * OpenMetrics (where a counter's family drops `_total`). Two families sharing any of them
 * make an exposition Prometheus refuses to parse ("second TYPE line").
 */
export function seriesNames(name: string, type: string): string[] {
  switch (type) {
    case 'counter':
      return name.endsWith('_total') ? [name, name.slice(0, -'_total'.length)] : [name, `${name}_total`];
    case 'histogram':
      return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`];
    case 'summary':
      return [name, `${name}_sum`, `${name}_count`];
    default:
      return [name];
  }
}
