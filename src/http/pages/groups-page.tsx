/**
 * `/groups`: the Pushgateway-compatible groups — grouping labels, push and failure times,
 * and each group's metrics — with a delete button per group behind the admin token, as
 * the Pushgateway's own UI has.
 */
import type { Group, PushedMetric } from '../../pushgateway/model.js';
import { fmtAgo, fmtTime } from './format.js';
import { Layout, type HealthCheck } from './layout.js';

export interface GroupsPageProps {
  health: HealthCheck[];
  refresh: number;
  now: number;
  groups: Group[];
  /** Delete buttons are shown when admin tokens are configured; the POST checks the token. */
  canDelete: boolean;
  /** Set after a delete, to say what happened. */
  notice?: string;
}

const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');

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
      <p class="muted">{p.groups.length} groups. Pushed with the Pushgateway API (PUT/POST /metrics/job/…).</p>
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
    </Layout>
  );
}
