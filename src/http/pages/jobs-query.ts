/**
 * The jobs table's query string → filter, sort and page, as a pure function over rows,
 * so `/` works without JavaScript (links and a GET form) and a test can check every
 * combination without a browser. Query keys: `state` (repeatable or comma-separated),
 * `name` (case-insensitive substring), `sort`, `dir`, `page`, `per_page`.
 */
import { RUN_STATES, type RunState } from '../../domain/run.js';

export const SORT_KEYS = ['name', 'state', 'elapsed', 'last_success', 'failures_24h', 'last_seen', 'source'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface JobsQuery {
  states: RunState[];
  name: string;
  sort: SortKey;
  dir: 'asc' | 'desc';
  page: number;
  per_page: number;
}

export interface JobRow {
  job_name: string;
  state?: RunState;
  stuck: boolean;
  overdue: boolean;
  progress?: number;
  /** Seconds the current run has been going (running) or took (finished). */
  elapsed?: number;
  expected?: number;
  last_success_at?: number;
  last_seen_at: number;
  failures_24h: number;
  source: string;
  latest_run_id: string;
}

export const PER_PAGE_DEFAULT = 100;
export const PER_PAGE_MAX = 1000;

/** Bad values fall back to defaults: a hand-edited URL should still show a page. */
export function parseJobsQuery(get: (k: string) => string[]): JobsQuery {
  const states = get('state')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s): s is RunState => (RUN_STATES as readonly string[]).includes(s));
  const sortRaw = get('sort')[0] ?? 'name';
  const sort = (SORT_KEYS as readonly string[]).includes(sortRaw) ? (sortRaw as SortKey) : 'name';
  const dir = get('dir')[0] === 'desc' ? 'desc' : 'asc';
  const int = (k: string, def: number, max: number): number => {
    const n = Number(get(k)[0]);
    return Number.isInteger(n) && n >= 1 ? Math.min(n, max) : def;
  };
  return {
    states: [...new Set(states)],
    name: (get('name')[0] ?? '').trim(),
    sort,
    dir,
    page: int('page', 1, 1_000_000),
    per_page: int('per_page', PER_PAGE_DEFAULT, PER_PAGE_MAX),
  };
}

/** Worst first when sorting by state: what needs a human comes to the top. */
const SEVERITY: Record<RunState, number> = {
  crashed: 0,
  timed_out: 1,
  failed: 2,
  running: 3,
  submitting: 4,
  queued: 5,
  cancelled: 6,
  succeeded: 7,
  // A missed run is never a job's latest unless the job has never run at all.
  missed: 2,
};
const severity = (r: JobRow): number => (r.state === undefined ? 9 : SEVERITY[r.state] - (r.stuck || r.overdue ? 0.5 : 0));

const num = (v: number | undefined): number => (v === undefined ? -Infinity : v);
const COMPARE: Record<SortKey, (a: JobRow, b: JobRow) => number> = {
  name: () => 0,
  state: (a, b) => severity(a) - severity(b),
  elapsed: (a, b) => num(a.elapsed) - num(b.elapsed),
  last_success: (a, b) => num(a.last_success_at) - num(b.last_success_at),
  failures_24h: (a, b) => a.failures_24h - b.failures_24h,
  last_seen: (a, b) => a.last_seen_at - b.last_seen_at,
  source: (a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0),
};

export function selectJobs(rows: readonly JobRow[], q: JobsQuery): { rows: JobRow[]; total: number; pages: number; page: number } {
  const needle = q.name.toLowerCase();
  const states = q.states.length > 0 ? new Set<string>(q.states) : undefined;
  const kept = rows.filter(
    (r) => (!states || (r.state !== undefined && states.has(r.state))) && (!needle || r.job_name.toLowerCase().includes(needle)),
  );
  const by = COMPARE[q.sort];
  const sign = q.dir === 'desc' ? -1 : 1;
  // Name is the tie-breaker in every order so a page boundary is stable between reloads.
  kept.sort((a, b) => sign * by(a, b) || (a.job_name < b.job_name ? -sign : a.job_name > b.job_name ? sign : 0));
  const pages = Math.max(1, Math.ceil(kept.length / q.per_page));
  const page = Math.min(q.page, pages);
  return { rows: kept.slice((page - 1) * q.per_page, page * q.per_page), total: kept.length, pages, page };
}
