/**
 * Spark monitoring REST API of a driver UI (4040) or history server (18080):
 * `/api/v1/applications/<id>` for state and times, `/api/v1/applications/<id>/jobs` for
 * progress. Quirks: there is no app-level failure state — an attempt is `completed` or
 * not; only recent Spark adds `exitCode`. Without it the outcome is taken from the jobs
 * (any FAILED job → failed; Spark shows killed jobs as FAILED too), so configure the
 * cluster manager's API (standalone, YARN, Livy) when the exact outcome matters.
 * A running attempt has `endTimeEpoch: -1`.
 */
import { SPARK_LABELS, type SparkApi } from './api.js';
import { epochMs, isObj, str, taskProgress, UnexpectedResponseError, type SparkObservation, type TaskCounts } from './observation.js';

export function parseApplication(app: unknown, jobs?: unknown): SparkObservation {
  if (!isObj(app) || !str(app.id)) throw new UnexpectedResponseError('application without an id');
  const id = app.id as string;
  const attempts = Array.isArray(app.attempts) ? app.attempts.filter(isObj) : [];
  // Attempts are listed latest first.
  const latest = attempts[0];
  const jobList = Array.isArray(jobs) ? jobs.filter(isObj) : undefined;
  const obs: SparkObservation = { id, state: 'unknown', native: 'UNKNOWN' };
  const name = str(app.name);
  if (name) obs.name = name;
  if (!latest) return obs;
  const start = epochMs(latest.startTimeEpoch) ?? parseSparkDate(latest.startTime);
  if (start !== undefined) obs.started_at = start;
  if (latest.completed === false) {
    obs.state = 'running';
    obs.native = 'RUNNING';
  } else if (latest.completed === true) {
    const end = epochMs(latest.endTimeEpoch) ?? parseSparkDate(latest.endTime);
    if (end !== undefined) obs.ended_at = end;
    const exitCode = typeof latest.exitCode === 'number' ? latest.exitCode : undefined;
    const failedJob = jobList?.find((j) => j.status === 'FAILED');
    if (exitCode !== undefined) {
      obs.exit_code = exitCode;
      obs.state = exitCode === 0 ? 'succeeded' : 'failed';
      obs.native = `COMPLETED/exitCode=${exitCode}`;
      if (exitCode !== 0) obs.error_message = `application exited with code ${exitCode}`;
    } else if (failedJob) {
      obs.state = 'failed';
      obs.native = 'COMPLETED/job FAILED';
      obs.error_message = `Spark job ${String(failedJob.jobId)} (${str(failedJob.name) ?? 'unnamed'}) failed`;
    } else if (jobList) {
      obs.state = 'succeeded';
      obs.native = 'COMPLETED';
    }
  }
  if (jobList && obs.state === 'running') {
    const p = taskProgress(jobList as TaskCounts[]);
    if (p !== undefined) obs.progress = p;
  }
  return obs;
}

/** `2015-02-03T16:42:59.720GMT` → unix ms. */
export function parseSparkDate(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v.replace(/GMT$/, 'Z'));
  return Number.isNaN(t) || t <= 0 ? undefined : t;
}

export const monitoringApi: SparkApi = {
  kind: 'monitoring-api',
  idLabels: [SPARK_LABELS.appId],
  async poll(http, id) {
    const path = `/api/v1/applications/${encodeURIComponent(id)}`;
    const app = await http.getJson(path);
    const jobs = await http.getJson(`${path}/jobs`);
    return parseApplication(app, jobs);
  },
  async discover(http) {
    const list = await http.getJson('/api/v1/applications?status=running');
    if (!Array.isArray(list)) throw new UnexpectedResponseError('applications answer is not a list');
    return list.map((a) => parseApplication(a)).filter((o) => o.state === 'running');
  },
};
