import { describe, expect, it } from 'vitest';
import { parseJobsQuery, selectJobs, type JobRow } from '../../src/http/pages/jobs-query.js';

const row = (job_name: string, o: Partial<JobRow> = {}): JobRow => ({
  job_name,
  stuck: false,
  overdue: false,
  last_seen_at: 0,
  failures_24h: 0,
  source: 'push',
  latest_run_id: `${job_name}-1`,
  ...o,
});
const ROWS: JobRow[] = [
  row('b-ok', { state: 'succeeded', last_success_at: 50, elapsed: 10 }),
  row('a-fail', { state: 'failed', failures_24h: 3, elapsed: 5 }),
  row('c-run', { state: 'running', elapsed: 100 }),
  row('d-stuck', { state: 'running', stuck: true, elapsed: 30 }),
  row('E-crash', { state: 'crashed', failures_24h: 1 }),
  row('f-none'),
];
const q = (s: string) => {
  const p = new URLSearchParams(s);
  return parseJobsQuery((k) => p.getAll(k));
};
const names = (s: string): string[] => selectJobs(ROWS, q(s)).rows.map((r) => r.job_name);

describe('jobs table query', () => {
  it.each([
    ['default: name ascending (code-unit order)', '', ['E-crash', 'a-fail', 'b-ok', 'c-run', 'd-stuck', 'f-none']],
    ['name descending', 'dir=desc', ['f-none', 'd-stuck', 'c-run', 'b-ok', 'a-fail', 'E-crash']],
    ['state: worst first, stuck before running, no runs last', 'sort=state', ['E-crash', 'a-fail', 'd-stuck', 'c-run', 'b-ok', 'f-none']],
    ['failures, most first, ties by name', 'sort=failures_24h&dir=desc', ['a-fail', 'E-crash', 'f-none', 'd-stuck', 'c-run', 'b-ok']],
    ['elapsed ascending, unknown first', 'sort=elapsed', ['E-crash', 'f-none', 'a-fail', 'b-ok', 'd-stuck', 'c-run']],
    ['filter one state', 'state=running', ['c-run', 'd-stuck']],
    ['filter states, comma and repeated', 'state=failed,crashed&state=succeeded', ['E-crash', 'a-fail', 'b-ok']],
    ['unknown states are dropped', 'state=bogus', ['E-crash', 'a-fail', 'b-ok', 'c-run', 'd-stuck', 'f-none']],
    ['name substring, any case', 'name=e', ['E-crash', 'f-none']],
    ['name and state together', 'name=RUN&state=running', ['c-run']],
    ['page 2 of 2-per-page', 'per_page=2&page=2', ['b-ok', 'c-run']],
    ['page beyond the end shows the last page', 'per_page=4&page=99', ['d-stuck', 'f-none']],
  ])('%s', (_why, query, expected) => {
    expect(names(query)).toEqual(expected);
  });

  it.each([
    ['page=0&per_page=-3&sort=drop&dir=up', { page: 1, per_page: 100, sort: 'name', dir: 'asc' }],
    ['per_page=999999', { per_page: 1000 }],
    ['page=2.5', { page: 1 }],
  ])('falls back to defaults for %s', (query, expected) => {
    expect(q(query)).toMatchObject(expected);
  });

  it('reports totals and page count after filtering', () => {
    expect(selectJobs(ROWS, q('state=running&per_page=1'))).toMatchObject({ total: 2, pages: 2, page: 1 });
    expect(selectJobs([], q(''))).toMatchObject({ total: 0, pages: 1, page: 1, rows: [] });
  });
});
