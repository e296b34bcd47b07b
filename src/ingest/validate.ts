/**
 * Turns a decoded `/push` body (or a Kafka message in native form) into EventDrafts,
 * or a ValidationError that lists every offending field path. Hand-written rather than
 * schema-library driven because it runs once per pushed event on the hot path.
 */
import type { Config } from '../config/schema.js';
import { ValidationError, type Issue } from '../domain/errors.js';
import { toWellFormed, wellFormed } from '../runtime/utf8.js';
import { CLIENT_EVENT_TYPES, isClientEventType, type EventDraft, type ResourceFigures } from '../domain/job-event.js';

export type Limits = Config['limits'];

const KNOWN_FIELDS = new Set([
  'job_name',
  'run_id',
  'event',
  'event_id',
  'timestamp',
  'progress',
  'records_processed',
  'records_total',
  'errors',
  'retry_attempt',
  'exit_code',
  'error_message',
  'parent_run_id',
  'labels',
  'metadata',
  'resources',
]);
const RESOURCE_FIELDS = ['cpu_percent', 'memory_percent', 'memory_bytes', 'io_read_ops', 'io_write_ops'] as const;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const ID_MAX = 200;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// The ISO 8601 forms Date.parse takes (seconds and fraction optional, zone required).
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Why an ISO 8601 time names no real instant (a 31st of November, hour 24), or undefined.
 * Date.parse rolls such a day over into the next month, so a typo became another date.
 */
function isoTimeProblem(v: string): string | undefined {
  const m = ISO_TIME.exec(v);
  if (!m) return 'expected unix seconds, unix milliseconds or an ISO 8601 time with a zone';
  const n = (i: number): number => Number(m[i] ?? 0);
  const [y, mo, d, h, mi, s, oh, om] = [n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8)];
  if (mo < 1 || mo > 12) return `month ${m[2]} does not exist (01 to 12)`;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = mo === 2 && leap ? 29 : (DAYS_IN_MONTH[mo - 1] as number);
  if (d < 1 || d > days) return `day ${m[3]} does not exist in ${m[1]}-${m[2]} (01 to ${days})`;
  if (h > 23 || mi > 59 || s > 59) return `time ${m[4]}:${m[5]}${m[6] === undefined ? '' : `:${m[6]}`} does not exist (00:00:00 to 23:59:59)`;
  if (oh > 23 || om > 59) return 'zone offset out of range (at most ±23:59)';
  return undefined;
}

/** Client timestamps: unix seconds (< 1e11), unix milliseconds, or an ISO 8601 string with a zone naming a real date and time. */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v < 1e11 ? Math.round(v * 1000) : Math.round(v);
  if (typeof v === 'string' && isoTimeProblem(v) === undefined) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/**
 * Characters (code points) in `s`: limits are documented in characters, and a UTF-16 length
 * counts an emoji twice. A lone surrogate counts as one.
 */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n -= 1;
        i += 1;
      }
    }
  }
  return n;
}

/** `s` cut to its first `max` code points, never inside a surrogate pair. */
function cutCodePoints(s: string, max: number): string {
  let end = 0;
  for (let k = 0; k < max && end < s.length; k++) {
    const c = s.charCodeAt(end);
    const d = s.charCodeAt(end + 1);
    end += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
  }
  return s.slice(0, end);
}

/** Whether `s` is over `max` characters; the UTF-16 length answers most calls without counting. */
const overLength = (s: string, max: number): boolean => s.length > max && codePointLength(s) > max;

export function truncate(s: string, max: number): string {
  if (!overLength(s, max)) return s;
  return `${cutCodePoints(s, max)}…[truncated ${codePointLength(s) - max} chars]`;
}

function addIssue(issues: Issue[], at: string, f: string, message: string): void {
  issues.push({ path: at ? `${at}.${f}` : f, message });
}

/**
 * Why a name or id (job_name, run_id, …) is refused, or undefined. The one rule for every way
 * in: `/push`, Kafka and ping URLs (whose job name comes from the path).
 */
export function nameProblem(v: string, max: number): string | undefined {
  if (v.length === 0 || overLength(v, max)) return `expected 1 to ${max} characters`;
  // URLs resolve such a path segment away, so /api/v1/jobs/%2E%2E (or /api/v1/runs/…) could
  // never name it: the job could not be looked up or deleted.
  if (v === '.' || v === '..') return 'must not be "." or ".." (URLs resolve such a path segment away, so the REST API could never address it)';
  if (CONTROL.test(v)) return 'must not contain control characters';
  if (!wellFormed(v)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

/**
 * A name taken from another system (a Spark application's name) made to pass `nameProblem`:
 * control characters become spaces, a lone surrogate U+FFFD, and the name is cut at `max`. Discovery should still track
 * the application, so it is not refused. An empty result, "." or ".." falls back to `fallback`.
 */
export function fitName(v: string, max: number, fallback: string): string {
  // A lone surrogate becomes U+FFFD, as storage would write it (the cut never makes one).
  const out = toWellFormed(cutCodePoints(v.replace(CONTROL_ALL, ' ').trim(), max));
  return out === '' || out === '.' || out === '..' ? toWellFormed(cutCodePoints(fallback.replace(CONTROL_ALL, ' '), max)) : out;
}

function str(input: Record<string, unknown>, f: string, max: number, required: boolean, issues: Issue[], at: string): string | undefined {
  const v = input[f];
  if (v === undefined || v === null) {
    if (required) addIssue(issues, at, f, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') return void addIssue(issues, at, f, 'expected a string');
  const problem = nameProblem(v, max);
  if (problem !== undefined) return void addIssue(issues, at, f, problem);
  return v;
}

/** Whether objects and arrays nest more than `max` levels in `v` (iterative: any depth is safe to ask). */
export function deeperThan(v: unknown, max: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const stack: [object, number][] = [[v, 1]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node))
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

function count(input: Record<string, unknown>, f: string, issues: Issue[], at: string): number | undefined {
  const v = input[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return void addIssue(issues, at, f, 'expected a non-negative integer');
  return v;
}

/**
 * One event object → an EventDraft, or every issue with its path. Runs once per pushed
 * event: the helpers above are plain functions, not closures made per call (four closures
 * and their context were ~500 B of garbage per event in an allocation profile).
 */
export function validateEvent(input: unknown, limits: Limits, now: number, at = ''): { draft?: EventDraft; issues: Issue[] } {
  const issues: Issue[] = [];
  if (!isObj(input)) {
    issues.push({ path: at || '(body)', message: 'expected an event object' });
    return { issues };
  }
  for (const k in input) if (!KNOWN_FIELDS.has(k)) addIssue(issues, at, k, 'unknown field');

  const job_name = str(input, 'job_name', limits.max_job_name_length, true, issues, at);
  const run_id = str(input, 'run_id', ID_MAX, false, issues, at);
  const event_id = str(input, 'event_id', ID_MAX, false, issues, at);
  const parent_run_id = str(input, 'parent_run_id', ID_MAX, false, issues, at);
  const ev = input.event;
  if (ev === undefined || ev === null) addIssue(issues, at, 'event', 'is required');
  else if (typeof ev !== 'string' || !isClientEventType(ev)) addIssue(issues, at, 'event', `expected one of ${CLIENT_EVENT_TYPES.join(', ')}`);

  let timestamp: number | undefined;
  if (input.timestamp !== undefined && input.timestamp !== null) {
    timestamp = parseTimestamp(input.timestamp);
    if (timestamp === undefined)
      addIssue(issues, at, 'timestamp', typeof input.timestamp === 'string' ? (isoTimeProblem(input.timestamp) ?? 'is not a valid time') : 'expected unix seconds, unix milliseconds or an ISO 8601 time with a zone');
    else if (timestamp > now + limits.max_future_skew)
      addIssue(issues, at, 'timestamp', `is ${Math.round((timestamp - now) / 1000)}s in the future (limits.max_future_skew is ${limits.max_future_skew / 1000}s)`);
    else if (timestamp < now - limits.max_event_age)
      addIssue(issues, at, 'timestamp', `is older than limits.max_event_age (${limits.max_event_age / 1000}s)`);
  }

  let progress: number | undefined;
  if (input.progress !== undefined && input.progress !== null) {
    const v = input.progress;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) addIssue(issues, at, 'progress', 'expected a number from 0 to 100');
    else progress = v;
  }
  const records_processed = count(input, 'records_processed', issues, at);
  const records_total = count(input, 'records_total', issues, at);
  const errors = count(input, 'errors', issues, at);
  const retry_attempt = count(input, 'retry_attempt', issues, at);
  let exit_code: number | undefined;
  if (input.exit_code !== undefined && input.exit_code !== null) {
    const v = input.exit_code;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -255 || v > 255) addIssue(issues, at, 'exit_code', 'expected an integer from -255 to 255');
    else exit_code = v;
  }
  let error_message: string | undefined;
  if (input.error_message !== undefined && input.error_message !== null) {
    if (typeof input.error_message !== 'string') addIssue(issues, at, 'error_message', 'expected a string');
    // Free text is kept, not refused (a failure must not be lost to a stray character), in the
    // form storage keeps it: a lone surrogate becomes U+FFFD.
    else error_message = toWellFormed(truncate(input.error_message, limits.max_error_message_length));
  }

  let labels: Record<string, string> | undefined;
  if (input.labels !== undefined && input.labels !== null) {
    if (!isObj(input.labels)) addIssue(issues, at, 'labels', 'expected an object of string values');
    else {
      const entries = Object.entries(input.labels);
      if (entries.length > limits.max_labels) addIssue(issues, at, 'labels', `at most ${limits.max_labels} labels`);
      labels = {};
      for (const [k, v] of entries) {
        if (!LABEL_NAME.test(k) || k.length > limits.max_label_name_length || k.startsWith('__'))
          addIssue(issues, at, `labels.${k}`, `label names match [a-zA-Z_][a-zA-Z0-9_]*, at most ${limits.max_label_name_length} characters, no leading __`);
        else if (typeof v !== 'string') addIssue(issues, at, `labels.${k}`, 'expected a string');
        else if (overLength(v, limits.max_label_value_length)) addIssue(issues, at, `labels.${k}`, `at most ${limits.max_label_value_length} characters`);
        else if (!wellFormed(v)) addIssue(issues, at, `labels.${k}`, 'must be well-formed Unicode (it holds a lone surrogate)');
        else labels[k] = v;
      }
    }
  }

  let metadata: unknown;
  if (input.metadata !== undefined) {
    // Depth first: JSON.parse takes any nesting, but JSON.stringify (here, and when the event is
    // committed) recurses and throws past a few thousand levels: a 20 KB body was a 500, and a
    // Kafka message like it failed its whole batch again and again.
    if (deeperThan(input.metadata, limits.max_metadata_depth))
      addIssue(issues, at, 'metadata', `is nested deeper than limits.max_metadata_depth (${limits.max_metadata_depth})`);
    else {
      const size = Buffer.byteLength(JSON.stringify(input.metadata) ?? '');
      if (size > limits.max_metadata_bytes) addIssue(issues, at, 'metadata', `is ${size} bytes, over limits.max_metadata_bytes (${limits.max_metadata_bytes})`);
      else metadata = input.metadata;
    }
  }

  let resources: ResourceFigures | undefined;
  if (input.resources !== undefined && input.resources !== null) {
    if (!isObj(input.resources)) addIssue(issues, at, 'resources', 'expected an object');
    else {
      resources = {};
      for (const k of Object.keys(input.resources))
        if (!(RESOURCE_FIELDS as readonly string[]).includes(k)) addIssue(issues, at, `resources.${k}`, 'unknown field');
      for (const k of RESOURCE_FIELDS) {
        const v = input.resources[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) addIssue(issues, at, `resources.${k}`, 'expected a non-negative number');
        else resources[k] = v;
      }
    }
  }

  if (issues.length > 0) return { issues };
  const draft: EventDraft = { job_name: job_name as string, event: ev as EventDraft['event'], source: 'push' };
  if (run_id !== undefined) draft.run_id = run_id;
  if (event_id !== undefined) draft.event_id = event_id;
  if (timestamp !== undefined) draft.timestamp = timestamp;
  if (parent_run_id !== undefined) draft.parent_run_id = parent_run_id;
  if (progress !== undefined) draft.progress = progress;
  if (records_processed !== undefined) draft.records_processed = records_processed;
  if (records_total !== undefined) draft.records_total = records_total;
  if (errors !== undefined) draft.errors = errors;
  if (retry_attempt !== undefined) draft.retry_attempt = retry_attempt;
  if (exit_code !== undefined) draft.exit_code = exit_code;
  if (error_message !== undefined) draft.error_message = error_message;
  if (labels !== undefined) draft.labels = labels;
  if (metadata !== undefined) draft.metadata = metadata;
  if (resources !== undefined) draft.resources = resources;
  return { draft, issues };
}

/** A push body: one event or an array of them. Throws ValidationError listing every issue. */
export function validatePushBody(body: unknown, limits: Limits, now: number): EventDraft[] {
  const items = Array.isArray(body) ? body : [body];
  if (Array.isArray(body)) {
    if (body.length === 0) throw new ValidationError([{ path: '(body)', message: 'expected at least one event' }]);
    if (body.length > limits.max_events_per_push)
      throw new ValidationError([{ path: '(body)', message: `at most ${limits.max_events_per_push} events per push` }]);
  }
  const drafts: EventDraft[] = [];
  const issues: Issue[] = [];
  items.forEach((item, i) => {
    const r = validateEvent(item, limits, now, Array.isArray(body) ? `[${i}]` : '');
    if (r.draft) drafts.push(r.draft);
    for (const x of r.issues) issues.push(x);
  });
  if (issues.length > 0) throw new ValidationError(issues.slice(0, 100));
  return drafts;
}
