/**
 * `/groups`: the Pushgateway-compatible groups — grouping labels, push and failure times,
 * and each group's metrics — with a delete button per group behind the admin token, as
 * the Pushgateway's own UI has.
 */
import type { Group, PushedMetric } from '../../pushgateway/model.js';
import { fmtAgo, fmtTime } from './format.js';
import { labelText, type GroupsQuery } from './groups-query.js';
import { Layout, withQuery, type HealthCheck } from './layout.js';

export interface GroupsPageProps {
  health: HealthCheck[];
  refresh: number;
  now: number;
  /** The groups of this page, and what the query selected in all. */
  groups: Group[];
  total: number;
  /** Groups whose last push was refused, of all groups. */
  failing: number;
  /** Groups held, before filtering. */
  all: number;
  query: GroupsQuery;
  params: URLSearchParams;
  page: number;
  pages: number;
  /** Delete buttons are shown when admin tokens are configured; the POST checks the token. */
  canDelete: boolean;
  /** Set after a delete, to say what happened. */
  notice?: string;
}

const sampleText = (m: PushedMetric): string => {
  if (m.value !== undefined) return String(m.value);
  const parts: string[] = [];
  if (m.count !== undefined) parts.push(`count ${m.count}`);
  if (m.sum !== undefined) parts.push(`sum ${m.sum}`);
  if (m.quantiles) parts.push(m.quantiles.map(([q, v]) => `q${q}=${v}`).join(' '));
  if (m.buckets) parts.push(m.buckets.map(([le, n]) => `le${le === Infinity ? '+Inf' : le}=${n}`).join(' '));
  return parts.join(' · ');
};

export function GroupsPage(p: GroupsPageProps) {
  return (
    <Layout title="Groups" health={p.health} refresh={p.refresh}>
      <h1>Pushgateway groups</h1>
      {p.notice ? <p data-testid="notice">{p.notice}</p> : null}
      <p class="muted" data-testid="groups-summary">
        {p.all} groups · <a href={withQuery('/groups', new URLSearchParams(), { failing: '1' })}>{p.failing} failing</a> (last push refused). Pushed with the Pushgateway
        API (PUT/POST /metrics/job/…).
      </p>
      <form class="filters" method="get" action="/groups">
        <label>
          Labels contain <input type="search" name="labels" value={p.query.labels} placeholder={'instance="db1"'} />
        </label>
        <label>
          <input type="checkbox" name="failing" value="1" checked={p.query.failing} /> failing only
        </label>
        <button type="submit">Filter</button>
        <a href="/groups">Clear</a>
      </form>
      {p.total === 0 ? <p class="muted">No groups match.</p> : null}
      <GroupsPager p={p} />
      {p.groups.map((g) => (
        <section class="group" data-group={g.key}>
          <h2>{labelText(g.labels)}</h2>
          <dl class="facts">
            <dt>Last push</dt>
            <dd>
              {g.push_time ? fmtTime(g.push_time) : 'never succeeded'} <span class="muted">({g.push_time ? fmtAgo(g.push_time, p.now) : '—'})</span>
            </dd>
            <dt>Last failed push</dt>
            <dd>
              {g.push_failure_time ? (
                <span class="flag flag-overdue">{`${fmtTime(g.push_failure_time)} (${fmtAgo(g.push_failure_time, p.now)})`}</span>
              ) : (
                'none'
              )}
            </dd>
            {g.expires_at !== undefined ? (
              <>
                <dt>Expires</dt>
                <dd>{fmtTime(g.expires_at)}</dd>
              </>
            ) : null}
          </dl>
          <table>
            <thead>
              <tr>
                <th>Metric</th>
                <th>Type</th>
                <th>Labels</th>
                <th>Value</th>
              </tr>
            </thead>
            <tbody>
              {[...g.families.values()].flatMap((f) =>
                f.metrics.map((m) => (
                  <tr>
                    <td class="name" title={f.help}>
                      {f.name}
                    </td>
                    <td>{f.type}</td>
                    <td class="name">{labelText(m.labels)}</td>
                    <td class="num">{sampleText(m)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
          {p.canDelete ? (
            <form method="post" action="/groups/delete" class="delete">
              <input type="hidden" name="key" value={g.key} />
              <button type="submit">Delete group</button> <span class="muted">needs an admin token</span>
            </form>
          ) : null}
        </section>
      ))}
      {p.groups.length > 10 ? <GroupsPager p={p} /> : null}
    </Layout>
  );
}

function GroupsPager({ p }: { p: GroupsPageProps }) {
  const first = p.total === 0 ? 0 : (p.page - 1) * p.query.per_page + 1;
  const last = Math.min(p.total, p.page * p.query.per_page);
  return (
    <div class="pager">
      <span>
        {first}–{last} of {p.total}
      </span>
      {p.page > 1 ? <a href={withQuery('/groups', p.params, { page: String(p.page - 1), deleted: undefined })}>← previous</a> : null}
      <span>
        page {p.page} of {p.pages}
      </span>
      {p.page < p.pages ? <a href={withQuery('/groups', p.params, { page: String(p.page + 1), deleted: undefined })}>next →</a> : null}
    </div>
  );
}
