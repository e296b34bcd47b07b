/**
 * Lifecycle bridging: a job that only ever pushed to a Pushgateway still gets runs.
 *
 * After a push is durable, the group's well-known batch-job metrics are read (first
 * sample of each family; values are unix seconds unless noted) and turned into
 * EventDrafts with source `pushgateway`:
 *
 * | role      | recognised names (suffix match)                                                       |
 * |-----------|---------------------------------------------------------------------------------------|
 * | start     | `*_start_time_seconds`, `*_start_timestamp_seconds`, `*_last_start_time_seconds`        |
 * | success   | `*_last_success_time_seconds`, `*_last_successful_run_time_seconds`,                    |
 * |           | `*_last_success_timestamp_seconds`, `*_last_success_unixtime` (client_python's example) |
 * | end       | `*_completion_time_seconds`, `*_last_completion_timestamp_seconds` (client_golang's     |
 * |           | example), `*_end_time_seconds`                                                          |
 * | duration  | `*_duration_seconds` (gauge): with an end and no start, start = end − duration         |
 * | progress  | `*_progress_percent`, `*_progress` (0–100), `*_progress_ratio` (0–1)                    |
 * | failure   | `*_failed` (non-zero = failed), `*_exit_code` (non-zero = failed, carried as exit_code) |
 * | records   | `*_records_processed` (client_golang's example), `*_records_processed_total`           |
 *
 * A run is identified by the group and its start time (or, with no start time, its end
 * time), so its `run_id` and every `event_id` are deterministic: re-pushing the same
 * values duplicates nothing, and a new start time opens a new run.
 * - start > end (or no end): the run is running (started, plus progress if any).
 * - an end, success time or failure at or after the start: it finished; failed when a
 *   failure flag or non-zero exit code is set, else succeeded. A success time older than
 *   the end time with no failure flag means the last run failed.
 * The job is the `job` grouping label; other grouping labels (except an empty instance)
 * are appended as `/name=value` so different instances get separate run histories.
 */
import { createHash } from 'node:crypto';
import type { EventDraft } from '../domain/job-event.js';
import type { Group } from './model.js';

const ROLES: [RegExp, 'start' | 'success' | 'end' | 'duration' | 'progress' | 'ratio' | 'failed' | 'exit' | 'records'][] = [
  [/(?:^|_)(?:last_)?start_(?:time|timestamp)_seconds$/, 'start'],
  [/(?:^|_)last_success(?:ful_run)?_(?:time|timestamp)_seconds$|(?:^|_)last_success_unixtime$/, 'success'],
  [/(?:^|_)(?:last_)?completion_(?:time|timestamp)_seconds$|(?:^|_)end_(?:time|timestamp)_seconds$/, 'end'],
  [/(?:^|_)duration_seconds$/, 'duration'],
  [/(?:^|_)progress(?:_percent)?$/, 'progress'],
  [/(?:^|_)progress_ratio$/, 'ratio'],
  [/(?:^|_)failed$/, 'failed'],
  [/(?:^|_)exit_code$/, 'exit'],
  [/(?:^|_)records_processed(?:_total)?$/, 'records'],
];

type Role = (typeof ROLES)[number][1];

// Every push runs deriveEvents; names and grouping keys repeat, so the regex tests and the
// job name and key hash are done once per distinct value (bounded: cleared when they grow past CACHE_MAX).
const CACHE_MAX = 100_000;
const roleCache = new Map<string, Role | null>();
const keyCache = new Map<string, { job_name: string; hash: string }>();

function roleOf(name: string): Role | null {
  let role = roleCache.get(name);
  if (role === undefined) {
    role = null;
    for (const [re, r] of ROLES) {
      if (re.test(name)) {
        role = r;
        break;
      }
    }
    if (roleCache.size >= CACHE_MAX) roleCache.clear();
    roleCache.set(name, role);
  }
  return role;
}

function keyInfo(group: Group): { job_name: string; hash: string } {
  let info = keyCache.get(group.key);
  if (info === undefined) {
    info = { job_name: jobNameOf(group.labels), hash: createHash('sha256').update(group.key).digest('hex').slice(0, 12) };
    if (keyCache.size >= CACHE_MAX) keyCache.clear();
    keyCache.set(group.key, info);
  }
  return info;
}

export function jobNameOf(labels: Record<string, string>): string {
  const extra = Object.keys(labels)
    .filter((k) => k !== 'job' && !(k === 'instance' && labels[k] === ''))
    .sort()
    .map((k) => `/${k}=${labels[k]}`)
    .join('');
  return `${labels.job}${extra}`;
}

export function deriveEvents(group: Group): EventDraft[] {
  // Every role present from the start: one object shape for V8 (it runs on every push).
  const v: Record<Role, number | undefined> = { start: undefined, success: undefined, end: undefined, duration: undefined, progress: undefined, ratio: undefined, failed: undefined, exit: undefined, records: undefined };
  for (const f of group.families.values()) {
    if (f.type === 'histogram' || f.type === 'summary') continue;
    const value = f.metrics[0]?.value;
    if (value === undefined || !Number.isFinite(value)) continue;
    const role = roleOf(f.name);
    if (role !== null && v[role] === undefined) v[role] = value;
  }
  const failed = (v.failed !== undefined && v.failed !== 0) || (v.exit !== undefined && v.exit !== 0);
  // Times in ms; 0 means "never" in the Pushgateway idiom (a gauge initialised to 0).
  const ms = (s: number | undefined): number | undefined => (s !== undefined && s > 0 ? Math.round(s * 1000) : undefined);
  let start = ms(v.start);
  const success = ms(v.success);
  let end = ms(v.end) ?? success;
  if (end === undefined && failed) end = group.push_time;
  if (start === undefined && end !== undefined && v.duration !== undefined && v.duration >= 0) start = end - Math.round(v.duration * 1000);
  const hasProgress = v.progress !== undefined || v.ratio !== undefined;
  if (start === undefined && end === undefined && !hasProgress) return [];

  const { job_name, hash } = keyInfo(group);
  const finished = end !== undefined && (start === undefined || end >= start);
  const anchor = start ?? end ?? group.push_time;
  const run_id = `pg-${hash}-${anchor}`;
  // Literals, not `{ ...base, event }`: on Node 20 a spread with added properties costs µs.
  const draft = (event: EventDraft['event'], event_id: string, timestamp: number): EventDraft => ({ job_name, run_id, source: 'pushgateway', event, event_id, timestamp });
  const drafts: EventDraft[] = [];
  if (start !== undefined) drafts.push(draft('started', `${run_id}:started`, start));
  if (!finished) {
    if (hasProgress) {
      const p = Math.max(0, Math.min(100, v.progress ?? (v.ratio as number) * 100));
      const d = draft('progress', `${run_id}:progress:${p}`, group.push_time);
      d.progress = p;
      if (v.records !== undefined) d.records_processed = v.records;
      drafts.push(d);
    }
    return drafts;
  }
  // A success time older than the end time (and no explicit flag) means the last run did not succeed.
  const lastFailed = failed || (success !== undefined && v.end !== undefined && success < (ms(v.end) as number));
  const d = draft(lastFailed ? 'failed' : 'succeeded', `${run_id}:end`, end as number);
  if (v.exit !== undefined) d.exit_code = v.exit;
  if (v.records !== undefined) d.records_processed = v.records;
  drafts.push(d);
  return drafts;
}
