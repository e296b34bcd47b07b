/** `/runs/<run_id>`: the run's facts, its event timeline (the audit trail) and its child batches. */
import { runDurationSeconds, type Run, type RunState } from '../../domain/run.js';
import type { StoredEvent } from '../../store/store.js';
import { fmtSeconds, fmtTime } from './format.js';
import { Flags, jobHref, Layout, ProgressBar, runHref, StateBadge, type HealthCheck } from './layout.js';
import { RunsTable } from './runs-table.js';

/**
 * A long log (a run heartbeating for days) is shown as its first and newest events: the whole
 * of 50,000 events was 9.7 MB of HTML and 1.9 s of rendering on the event loop.
 */
export const TIMELINE_HEAD = 100;
export const TIMELINE_TAIL = 400;

export interface RunPageProps {
  health: HealthCheck[];
  refresh: number;
  now: number;
  run: Run;
  /** The timeline as shown: all events, or the first and the newest of a long log (`omitted` between them). */
  events: StoredEvent[];
  /** Events left out after the first TIMELINE_HEAD, when the log is long. */
  omitted?: number;
  expected?: number;
  batches: Run[];
  childCursor?: string;
  childStates: RunState[];
  params: URLSearchParams;
  path: string;
}

/** What an event said beyond its type, in one short line. */
const eventDetail = (e: StoredEvent): string => {
  const parts: string[] = [];
  if (e.progress !== undefined) parts.push(`progress ${e.progress}%`);
  if (e.records_processed !== undefined) parts.push(`records ${e.records_processed}${e.records_total !== undefined ? `/${e.records_total}` : ''}`);
  if (e.errors !== undefined) parts.push(`errors ${e.errors}`);
  if (e.exit_code !== undefined) parts.push(`exit ${e.exit_code}`);
  if (e.retry_attempt !== undefined) parts.push(`retry ${e.retry_attempt}`);
  if (e.error_message !== undefined) parts.push(e.error_message.length > 200 ? `${e.error_message.slice(0, 200)}…` : e.error_message);
  return parts.join(' · ');
};

export function RunPage(p: RunPageProps) {
  const { run } = p;
  const duration = runDurationSeconds(run);
  const elapsed = duration ?? (run.started_at !== undefined && run.ended_at === undefined ? (p.now - run.started_at) / 1000 : undefined);
  const labels = Object.entries(run.labels ?? {});
  const hasChildren = p.batches.length > 0 || p.childStates.length > 0 || p.params.has('cursor');
  return (
    <Layout title={`run ${run.run_id}`} health={p.health} refresh={p.refresh}>
      <h1>
        <span class="muted">Run</span> {run.run_id}
      </h1>
      <div class="cols">
        <section>
          <dl class="facts" data-testid="run-facts">
            <dt>Job</dt>
            <dd>
              <a href={jobHref(run.job_name)}>{run.job_name}</a>
            </dd>
            {run.parent_run_id ? (
              <>
                <dt>Parent run</dt>
                <dd>
                  <a href={runHref(run.parent_run_id)}>{run.parent_run_id}</a>
                </dd>
              </>
            ) : null}
            <dt>State</dt>
            <dd>
              <StateBadge state={run.state} />
              <Flags stuck={run.stuck} overdue={run.overdue} />
            </dd>
            <dt>Progress</dt>
            <dd>
              <ProgressBar progress={run.progress} />
            </dd>
            <dt>{duration !== undefined ? 'Duration' : 'Elapsed'}</dt>
            <dd>
              {fmtSeconds(elapsed)} <span class="muted">expected {fmtSeconds(p.expected)}</span>
            </dd>
            <dt>Source</dt>
            <dd>{run.source}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(run.created_at)}</dd>
            <dt>Queued / submitted</dt>
            <dd>
              {fmtTime(run.queued_at)} / {fmtTime(run.submitted_at)}
            </dd>
            <dt>Started / ended</dt>
            <dd>
              {fmtTime(run.started_at)} / {fmtTime(run.ended_at)}
            </dd>
            <dt>Last heartbeat</dt>
            <dd>{fmtTime(run.last_heartbeat_at)}</dd>
            <dt>Records</dt>
            <dd>
              {run.records_processed ?? '—'}
              {run.records_total !== undefined ? ` of ${run.records_total}` : ''}, errors {run.errors ?? 0}
            </dd>
            <dt>Retry attempt / exit code</dt>
            <dd>
              {run.retry_attempt ?? 0} / {run.exit_code ?? '—'}
            </dd>
          </dl>
        </section>
        <section>
          {run.error_message ? (
            <>
              <h2>Error</h2>
              <pre class="error" data-testid="error-message">
                {run.error_message}
              </pre>
            </>
          ) : null}
          <h2>Labels</h2>
          {labels.length === 0 ? (
            <p class="muted">none</p>
          ) : (
            <dl class="facts" data-testid="labels">
              {labels.map(([k, v]) => (
                <>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </>
              ))}
            </dl>
          )}
          <h2>Metadata</h2>
          {run.metadata === undefined ? <p class="muted">none</p> : <pre data-testid="metadata">{JSON.stringify(run.metadata, null, 2)}</pre>}
          {run.resources ? (
            <>
              <h2>Resources</h2>
              <pre>{JSON.stringify(run.resources, null, 2)}</pre>
            </>
          ) : null}
        </section>
      </div>
      <h2>Timeline</h2>
      <table id="timeline">
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Received</th>
            <th>Event</th>
            <th>Source</th>
            <th>Applied</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {p.events.map((e, i) => (
            <>
            {p.omitted && i === TIMELINE_HEAD ? (
              <tr data-testid="timeline-omitted">
                <td colspan={7} class="muted">
                  … {p.omitted} events not shown (the whole log: <a href={`/api/v1/runs/${encodeURIComponent(p.run.run_id)}`}>/api/v1/runs/{p.run.run_id}</a>)
                </td>
              </tr>
            ) : null}
            <tr data-event={e.event}>
              <td class="num">{e.seq}</td>
              <td>{fmtTime(e.timestamp)}</td>
              <td class="muted">{fmtTime(e.received_at)}</td>
              <td>{e.event}</td>
              <td>{e.source}</td>
              <td>{e.applied ? 'yes' : `no: ${e.reason ?? ''}`}</td>
              <td class="name">{eventDetail(e)}</td>
            </tr>
            </>
          ))}
        </tbody>
      </table>
      {p.events.length === 0 ? <p class="muted">No events kept (pruned by retention).</p> : null}
      <h2>Child batches</h2>
      {hasChildren ? (
        <RunsTable id="children" path={p.path} params={p.params} runs={p.batches} now={p.now} states={p.childStates} nextCursor={p.childCursor} showJob />
      ) : (
        <p class="muted">This run has no child batches.</p>
      )}
    </Layout>
  );
}
