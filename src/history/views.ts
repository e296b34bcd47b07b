/** JSON shapes of the REST API: times as ISO 8601, durations in seconds, wire names kept. */
import { failuresTotal, type Job } from '../domain/job.js';
import { runDurationSeconds, type Run } from '../domain/run.js';
import type { StoredEvent } from '../store/store.js';

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function runView(run: Run, now?: number) {
  const duration = runDurationSeconds(run);
  return {
    run_id: run.run_id,
    job_name: run.job_name,
    parent_run_id: run.parent_run_id,
    state: run.state,
    source: run.source,
    created_at: iso(run.created_at),
    queued_at: iso(run.queued_at),
    submitted_at: iso(run.submitted_at),
    started_at: iso(run.started_at),
    ended_at: iso(run.ended_at),
    last_event_at: iso(run.last_event_at),
    last_heartbeat_at: iso(run.last_heartbeat_at),
    last_progress_at: iso(run.last_progress_at),
    duration_seconds: duration,
    elapsed_seconds:
      duration === undefined && run.started_at !== undefined && now !== undefined ? Math.max(0, now - run.started_at) / 1000 : undefined,
    progress: run.progress,
    records_processed: run.records_processed,
    records_total: run.records_total,
    errors: run.errors,
    retry_attempt: run.retry_attempt,
    exit_code: run.exit_code,
    error_message: run.error_message,
    stuck: run.stuck,
    overdue: run.overdue,
    labels: run.labels,
    metadata: run.metadata,
    resources: run.resources,
    event_count: run.event_count,
  };
}

export function jobView(job: Job, latest: Run | undefined, now: number, expected?: number) {
  return {
    job_name: job.job_name,
    state: latest?.state,
    latest_run: latest ? runView(latest, now) : undefined,
    first_seen_at: iso(job.first_seen_at),
    last_seen_at: iso(job.last_seen_at),
    last_success_at: iso(job.last_success_at),
    last_failure_at: iso(job.last_failure_at),
    last_duration_seconds: job.last_duration_seconds,
    expected_duration_seconds: expected,
    runs_total: job.runs_total,
    failures_total: failuresTotal(job),
    records_processed_total: job.records_processed_total,
    errors_total: job.errors_total,
    retries_total: job.retries_total,
    source: job.source,
  };
}

export function eventView(e: StoredEvent) {
  // Copied, then overwritten: a spread with added properties is slow on Node 20.
  const view = Object.assign({}, e) as unknown as Omit<StoredEvent, 'timestamp' | 'received_at'> & { timestamp?: string; received_at?: string };
  view.timestamp = iso(e.timestamp);
  view.received_at = iso(e.received_at);
  return view;
}
