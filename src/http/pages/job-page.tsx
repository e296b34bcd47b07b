/** `/jobs/<job_name>`: expectations, a duration chart, success rate and the job's runs. */
import type { JobExpectations } from '../../config/schema.js';
import type { Job } from '../../domain/job.js';
import type { Run, RunState } from '../../domain/run.js';
import type { RunStats } from '../../history/stats.js';
import { formatDuration } from '../../runtime/duration.js';
import { DurationChart, type ChartRun } from './duration-chart.js';
import { fmtAgo, fmtPercent, fmtSeconds, fmtTime } from './format.js';
import { Flags, Layout, ProgressBar, runHref, StateBadge, type HealthCheck } from './layout.js';
import { RunsTable } from './runs-table.js';

export interface JobPageProps {
  health: HealthCheck[];
  refresh: number;
  now: number;
  job: Job;
  latest?: Run;
  expectations: JobExpectations;
  /** p95 of recent successful durations (seconds) and how many runs it is learned from. */
  baseline?: { p95: number; runs: number };
  expected?: number;
  chart: ChartRun[];
  week: RunStats;
  runs: Run[];
  nextCursor?: string;
  states: RunState[];
  params: URLSearchParams;
  path: string;
  /** Admin tokens are configured: show the delete button (the POST asks for one). */
  canDelete: boolean;
}

const ms = (v: number | undefined): string => (v === undefined ? '—' : formatDuration(v));

export function JobPage(p: JobPageProps) {
  const { job, latest, expectations: e } = p;
  const total = Object.values(job.runs_total).reduce((a, b) => a + b, 0);
  const decided = job.runs_total.succeeded + job.runs_total.failed + job.runs_total.timed_out + job.runs_total.crashed;
  return (
    <Layout title={job.job_name} health={p.health} refresh={p.refresh}>
      <h1>
        <span class="muted">Job</span> {job.job_name}
      </h1>
      <div class="cols">
        <section>
          <h2>Now</h2>
          <dl class="facts">
            <dt>State</dt>
            <dd>
              <StateBadge state={latest?.state} />
              <Flags stuck={latest?.stuck} overdue={latest?.overdue} />
            </dd>
            <dt>Latest run</dt>
            <dd>{latest ? <a href={runHref(latest.run_id)}>{latest.run_id}</a> : '—'}</dd>
            {latest?.state === 'running' ? (
              <>
                <dt>Progress</dt>
                <dd>
                  <ProgressBar progress={latest.progress} />
                </dd>
                <dt>Elapsed</dt>
                <dd>
                  {fmtSeconds(latest.started_at !== undefined ? (p.now - latest.started_at) / 1000 : undefined)} of expected {fmtSeconds(p.expected)}
                </dd>
              </>
            ) : null}
            <dt>Source</dt>
            <dd>{job.source}</dd>
            <dt>Last success</dt>
            <dd>
              {fmtTime(job.last_success_at)} <span class="muted">({fmtAgo(job.last_success_at, p.now)})</span>
            </dd>
            <dt>Last failure</dt>
            <dd>
              {fmtTime(job.last_failure_at)} <span class="muted">({fmtAgo(job.last_failure_at, p.now)})</span>
            </dd>
            <dt>First seen</dt>
            <dd>{fmtTime(job.first_seen_at)}</dd>
          </dl>
        </section>
        <section>
          <h2>Expectations</h2>
          <dl class="facts" data-testid="expectations">
            <dt>Schedule</dt>
            <dd>{e.schedule ? `${e.schedule} (${e.timezone}, grace ${ms(e.grace)})` : 'none'}</dd>
            <dt>Max duration</dt>
            <dd>{e.max_duration !== undefined ? `${ms(e.max_duration)} (then ${e.max_duration_action === 'flag' ? 'flag overdue' : 'time out'})` : 'none'}</dd>
            <dt>Stuck after</dt>
            <dd>{ms(e.stuck_after)} without progress or heartbeat</dd>
            <dt>Submitting timeout</dt>
            <dd>{ms(e.submitting_timeout)}</dd>
            <dt>Crash after</dt>
            <dd>{ms(e.crash_after)} of child-batch silence</dd>
            <dt>Min duration</dt>
            <dd>{ms(e.min_duration)}</dd>
            <dt>Max age</dt>
            <dd>{ms(e.max_age)}</dd>
            <dt>Late signs of life</dt>
            <dd>{e.late_event_window > 0 ? `${ms(e.late_event_window)} after a run ended still its own` : 'open a new run'}</dd>
            <dt>Learned baseline</dt>
            <dd>{p.baseline ? `p95 ${fmtSeconds(p.baseline.p95)} over the last ${p.baseline.runs} successful runs` : 'not enough successful runs yet (detectors.baseline_min_samples)'}</dd>
          </dl>
        </section>
        <section>
          <h2>Success rate</h2>
          <dl class="facts" data-testid="success-rate">
            <dt>Last 7 days</dt>
            <dd>
              {fmtPercent(p.week.success_rate)} <span class="muted">({p.week.succeeded} succeeded, {p.week.failed} failed, {p.week.cancelled} cancelled)</span>
            </dd>
            <dt>p50 / p95 (7 days)</dt>
            <dd>
              {fmtSeconds(p.week.duration_seconds.p50)} / {fmtSeconds(p.week.duration_seconds.p95)}
            </dd>
            <dt>All time</dt>
            <dd>
              {fmtPercent(decided === 0 ? null : job.runs_total.succeeded / decided)}{' '}
              <span class="muted">
                ({total} finished: {Object.entries(job.runs_total).map(([k, v]) => `${v} ${k.replace('_', ' ')}`).join(', ')})
              </span>
            </dd>
          </dl>
        </section>
      </div>
      <h2>Recent durations</h2>
      <DurationChart runs={p.chart} expected={p.expected ?? p.baseline?.p95} />
      <h2>Runs</h2>
      <RunsTable id="runs" path={p.path} params={p.params} runs={p.runs} now={p.now} states={p.states} nextCursor={p.nextCursor} />
      {p.canDelete ? (
        <form method="post" action="/jobs/delete" class="delete">
          <input type="hidden" name="job_name" value={job.job_name} />
          <button type="submit">Delete job</button> <span class="muted">with its runs and events; needs an admin token</span>
        </form>
      ) : null}
    </Layout>
  );
}
