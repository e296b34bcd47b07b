/** `/`: every job, one row each, filtered, sorted and paginated by the query string. */
import { RUN_STATES, type RunState } from '../../domain/run.js';
import { fmtAgo, fmtSeconds } from './format.js';
import type { JobRow, JobsQuery, SortKey } from './jobs-query.js';
import { Flags, jobHref, Layout, ProgressBar, runHref, StateBadge, withQuery, type HealthCheck } from './layout.js';

export interface JobsPageProps {
  health: HealthCheck[];
  refresh: number;
  now: number;
  query: JobsQuery;
  params: URLSearchParams;
  rows: JobRow[];
  total: number;
  pages: number;
  page: number;
  jobCount: number;
  countsByState: Partial<Record<RunState, number>>;
}

const COLUMNS: { key: SortKey; label: string; num?: boolean }[] = [
  { key: 'name', label: 'Job' },
  { key: 'state', label: 'State' },
  { key: 'elapsed', label: 'Elapsed / expected', num: true },
  { key: 'last_success', label: 'Last success' },
  { key: 'failures_24h', label: 'Failures 24h', num: true },
  { key: 'last_seen', label: 'Last event' },
  { key: 'source', label: 'Source' },
];

export function JobsPage(p: JobsPageProps) {
  const sortLink = (key: SortKey): string =>
    withQuery('/', p.params, { sort: key, dir: p.query.sort === key && p.query.dir === 'asc' ? 'desc' : 'asc', page: undefined });
  const arrow = (key: SortKey): string => (p.query.sort === key ? (p.query.dir === 'asc' ? ' ▲' : ' ▼') : '');
  const first = p.total === 0 ? 0 : (p.page - 1) * p.query.per_page + 1;
  const last = Math.min(p.total, p.page * p.query.per_page);
  return (
    <Layout title="Jobs" health={p.health} refresh={p.refresh}>
      <h1>Jobs</h1>
      <p class="summary" data-testid="state-summary">
        {p.jobCount} jobs ·{' '}
        {RUN_STATES.filter((s) => (p.countsByState[s] ?? 0) > 0).map((s) => (
          <a href={withQuery('/', new URLSearchParams(), { state: s })} style="margin-right:8px">
            <StateBadge state={s} /> {p.countsByState[s]}
          </a>
        ))}
      </p>
      <form class="filters" method="get" action="/">
        <label>
          Name contains <input type="search" name="name" value={p.query.name} />
        </label>
        {RUN_STATES.map((s) => (
          <label>
            <input type="checkbox" name="state" value={s} checked={p.query.states.includes(s)} /> {s.replace('_', ' ')}
          </label>
        ))}
        <input type="hidden" name="sort" value={p.query.sort} />
        <input type="hidden" name="dir" value={p.query.dir} />
        <button type="submit">Filter</button>
        <a href="/">Clear</a>
      </form>
      <Pager p={p} first={first} last={last} />
      <table id="jobs">
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <th>
                <a href={sortLink(c.key)}>
                  {c.label}
                  {arrow(c.key)}
                </a>
              </th>
            ))}
            <th>Progress</th>
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr data-job={r.job_name}>
              <td class="name">
                <a href={jobHref(r.job_name)}>{r.job_name}</a>
              </td>
              <td>
                <a href={runHref(r.latest_run_id)}>
                  <StateBadge state={r.state} />
                </a>
                <Flags stuck={r.stuck} overdue={r.overdue} />
              </td>
              <td class="num">
                {fmtSeconds(r.elapsed)} <span class="muted">/ {fmtSeconds(r.expected)}</span>
              </td>
              <td>{fmtAgo(r.last_success_at, p.now)}</td>
              <td class="num">{r.failures_24h}</td>
              <td>{fmtAgo(r.last_seen_at, p.now)}</td>
              <td>{r.source}</td>
              <td>{r.state === 'running' ? <ProgressBar progress={r.progress} /> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {p.total === 0 ? <p class="muted">No jobs match.</p> : null}
      <Pager p={p} first={first} last={last} />
    </Layout>
  );
}

function Pager(props: { p: JobsPageProps; first: number; last: number }) {
  const { p } = props;
  return (
    <div class="pager">
      <span>
        {props.first}–{props.last} of {p.total}
      </span>
      {p.page > 1 ? <a href={withQuery('/', p.params, { page: String(p.page - 1) })}>← previous</a> : null}
      <span>
        page {p.page} of {p.pages}
      </span>
      {p.page < p.pages ? <a href={withQuery('/', p.params, { page: String(p.page + 1) })}>next →</a> : null}
    </div>
  );
}
