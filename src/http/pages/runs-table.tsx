/** A page of runs (a job's runs, a parent's child batches) with a state filter that works without JS. */
import { runDurationSeconds, RUN_STATES, type Run, type RunState } from '../../domain/run.js';
import { fmtSeconds, fmtTime } from './format.js';
import { Flags, ProgressBar, runHref, StateBadge, withQuery } from './layout.js';

export function RunsTable(props: {
  id: string;
  path: string;
  params: URLSearchParams;
  runs: Run[];
  now: number;
  states: RunState[];
  nextCursor?: string;
  /** Show the job column (child batches may belong to other jobs). */
  showJob?: boolean;
}) {
  const { runs, now } = props;
  return (
    <div id={props.id}>
      <form class="filters" method="get" action={props.path}>
        <span>State:</span>
        {RUN_STATES.map((s) => (
          <label>
            <input type="checkbox" name="state" value={s} checked={props.states.includes(s)} /> {s.replace('_', ' ')}
          </label>
        ))}
        <button type="submit">Filter</button>
        <a href={props.path}>All</a>
      </form>
      <table>
        <thead>
          <tr>
            <th>Run</th>
            {props.showJob ? <th>Job</th> : null}
            <th>State</th>
            <th>Started</th>
            <th>Ended</th>
            <th>Duration</th>
            <th>Progress</th>
            <th>Records</th>
            <th>Source</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => {
            const d = runDurationSeconds(r) ?? (r.started_at !== undefined && r.ended_at === undefined ? (now - r.started_at) / 1000 : undefined);
            return (
              <tr data-run={r.run_id} data-state={r.state}>
                <td class="name">
                  <a href={runHref(r.run_id)}>{r.run_id}</a>
                </td>
                {props.showJob ? <td class="name">{r.job_name}</td> : null}
                <td>
                  <StateBadge state={r.state} />
                  <Flags stuck={r.stuck} overdue={r.overdue} />
                </td>
                <td>{fmtTime(r.started_at)}</td>
                <td>{fmtTime(r.ended_at)}</td>
                <td class="num">{fmtSeconds(d)}</td>
                <td>{r.state === 'running' ? <ProgressBar progress={r.progress} /> : r.progress !== undefined ? `${r.progress}%` : '—'}</td>
                <td class="num">
                  {r.records_processed ?? '—'}
                  {r.records_total !== undefined ? ` / ${r.records_total}` : ''}
                </td>
                <td>{r.source}</td>
                <td class="name">{r.error_message ? r.error_message.slice(0, 160) : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {runs.length === 0 ? <p class="muted">No runs match.</p> : null}
      <div class="pager">
        {props.params.get('cursor') ? <a href={withQuery(props.path, props.params, { cursor: undefined })}>← newest</a> : null}
        {props.nextCursor ? <a href={withQuery(props.path, props.params, { cursor: props.nextCursor })}>older →</a> : null}
      </div>
    </div>
  );
}
