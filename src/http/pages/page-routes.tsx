/**
 * The built-in status page: `/`, `/jobs/<job_name>`, `/runs/<run_id>`, `/groups`. Server-rendered
 * HTML (hono JSX), usable without JavaScript; a `<meta refresh>` keeps it live
 * (`?refresh=<seconds>`, 0 turns it off). Reads current state from memory and history
 * from the store, like the REST API.
 *
 * Access: the read role, as for /metrics and the API. Browsers cannot send a bearer
 * token, so the page also takes HTTP Basic with the token as password and asks for it
 * with `WWW-Authenticate: Basic` — the browser then prompts.
 *
 * Every route is registered on its exact path (no `use('*')`): this sub-app is mounted
 * at '/', and a wildcard middleware here would wrap /metrics, /push and /api/* too.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { expectationsFor, type Config } from '../../config/schema.js';
import { ValidationError } from '../../domain/errors.js';
import { RUN_STATES, type RunState } from '../../domain/run.js';
import { NO_RUNS, windowSummary } from '../../history/stats.js';
import type { Clock } from '../../runtime/clock.js';
import type { JobState } from '../../state/job-state.js';
import type { Store, StoredEvent } from '../../store/store.js';
import type { Auth, Role } from '../auth.js';
import type { ReadinessCheck } from '../create-app.js';
import type { PushgatewayApi } from '../../pushgateway/pushgateway-api.js';
import { GroupsPage } from './groups-page.js';
import { parseGroupsQuery, selectGroups } from './groups-query.js';
import type { ChartRun } from './duration-chart.js';
import { JobPage } from './job-page.js';
import { parseJobsQuery, selectJobs, type JobRow } from './jobs-query.js';
import { JobsPage } from './jobs-page.js';
import { ErrorPage, type HealthCheck } from './layout.js';
import { createRecentFailures } from './recent-failures.js';
import { RunPage, TIMELINE_HEAD, TIMELINE_TAIL } from './run-page.js';

export interface PageDeps {
  state: JobState;
  store: Store;
  clock: Clock;
  auth: Auth;
  config: Config;
  /** The agent's readiness checks, shown in the header strip (sources add theirs later). */
  readiness: readonly ReadinessCheck[];
  expectedDuration: (jobName: string) => number | undefined;
  /** The detectors' learned baselines: the page shows the one the agent uses, not one of its own. */
  baseline?: (jobName: string) => { p95: number; samples: number } | undefined;
  /** The Pushgateway API when enabled (late-bound: the agent creates it after the routes). */
  pushgateway?: () => PushgatewayApi | undefined;
  /** Deletes a job with its runs and events (ingest's `forget`), for the job page's delete button. */
  forgetJob?: (jobName: string) => Promise<{ runs: number; events: number }>;
  /** Seconds between automatic reloads when the URL does not say. */
  refreshSeconds?: number;
}

const DAY_MS = 86_400_000;
const RUNS_PER_PAGE = 50;
const CHART_RUNS = 60;

type Page = HtmlEscapedString | Promise<HtmlEscapedString>;
const doc = (body: Page) => html`<!DOCTYPE html>${body}`;

/**
 * Renders to a string before answering so the `Server-Timing` header can carry the
 * server-side time (state, store reads and rendering): what bench/status-page.mjs reports
 * and what a browser's dev tools show next to the network time.
 */
async function respond(c: Context, t0: number, body: Page): Promise<Response> {
  const text = String(await doc(body));
  c.header('Server-Timing', `render;dur=${(performance.now() - t0).toFixed(1)}`);
  return c.html(text);
}

const statesOf = (c: Context): RunState[] =>
  (c.req.queries('state') ?? [])
    .flatMap((v) => v.split(','))
    .filter((s): s is RunState => (RUN_STATES as readonly string[]).includes(s));

/** The events the timeline shows, and how many it leaves out: from the store's window where it has one. */
async function timelineOf(store: Pick<Store, 'listEvents' | 'eventWindow'>, runId: string): Promise<{ events: StoredEvent[]; omitted: number }> {
  if (store.eventWindow) {
    const w = await store.eventWindow(runId, TIMELINE_HEAD, TIMELINE_TAIL);
    return { events: w.events, omitted: w.total - w.events.length };
  }
  const events = await store.listEvents(runId);
  if (events.length <= TIMELINE_HEAD + TIMELINE_TAIL) return { events, omitted: 0 };
  return { events: [...events.slice(0, TIMELINE_HEAD), ...events.slice(-TIMELINE_TAIL)], omitted: events.length - TIMELINE_HEAD - TIMELINE_TAIL };
}

export function createPageRoutes(deps: PageDeps): Hono {
  const { state, store, clock } = deps;
  const app = new Hono();
  const recentFailures = createRecentFailures({ store, state, windowMs: DAY_MS });

  const health = async (): Promise<HealthCheck[]> =>
    Promise.all(
      deps.readiness.map(async (r) => {
        try {
          return { name: r.name, ...(await r.check()) };
        } catch (err) {
          return { name: r.name, ok: false, detail: (err as Error).message };
        }
      }),
    );

  const refreshOf = (c: Context): number => {
    const n = Number(c.req.query('refresh'));
    return c.req.query('refresh') !== undefined && Number.isInteger(n) && n >= 0 ? Math.min(n, 3600) : (deps.refreshSeconds ?? 10);
  };

  const notFound = async (c: Context, what: string) =>
    c.html(doc(<ErrorPage title="Not found" message={what} health={await health()} />), 404);

  const guard =
    (role: Role): MiddlewareHandler =>
    async (c, next) => {
      const header = c.req.header('authorization');
      const basic = /^Basic\s+(\S+)$/i.exec(header ?? '');
      let bearer = header;
      if (basic) {
        const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
        bearer = `Bearer ${decoded.slice(decoded.indexOf(':') + 1)}`;
      }
      if (!deps.auth.allows(role, bearer)) {
        return c.html(
          doc(<ErrorPage title="Token required" message={`This page needs a token with ${role} access (any user name, the token as password).`} health={[]} />),
          401,
          { 'WWW-Authenticate': `Basic realm="jobpulse ${role}", charset="UTF-8"` },
        );
      }
      await next();
    };
  const requireRead = guard('read');

  app.get('/', requireRead, async (c) => {
    const t0 = performance.now();
    const now = clock.now();
    const failures = await recentFailures.counts(now);
    const rows: JobRow[] = [];
    const countsByState: Partial<Record<RunState, number>> = {};
    for (const job of state.allJobs()) {
      const latest = state.latestRun(job);
      const expected = deps.expectedDuration(job.job_name);
      const running = latest !== undefined && latest.ended_at === undefined && latest.started_at !== undefined;
      const elapsed = latest?.started_at === undefined ? undefined : ((latest.ended_at ?? now) - latest.started_at) / 1000;
      if (latest) countsByState[latest.state] = (countsByState[latest.state] ?? 0) + 1;
      rows.push({
        job_name: job.job_name,
        state: latest?.state,
        stuck: latest?.stuck ?? false,
        // Flag a run that has outlived its expected duration even before a detector has said so.
        overdue: (latest?.overdue ?? false) || (running && expected !== undefined && elapsed !== undefined && elapsed > expected),
        progress: latest?.progress,
        elapsed,
        expected,
        last_success_at: job.last_success_at,
        last_seen_at: job.last_seen_at,
        failures_24h: failures.get(job.job_name) ?? 0,
        source: job.source,
        latest_run_id: job.latest_run_id,
      });
    }
    const query = parseJobsQuery((k) => c.req.queries(k) ?? []);
    const sel = selectJobs(rows, query);
    const params = new URL(c.req.url).searchParams;
    return respond(
      c,
      t0,
      <JobsPage
        health={await health()}
        refresh={refreshOf(c)}
        now={now}
        query={query}
        params={params}
        rows={sel.rows}
        total={sel.total}
        pages={sel.pages}
        page={sel.page}
        jobCount={state.jobCount}
        countsByState={countsByState}
      />,
    );
  });

  // `{.+}` so a job name with a slash (encoded as %2F, decoded by the router) still matches.
  app.get('/jobs/:job_name{.+}', requireRead, async (c) => {
    const t0 = performance.now();
    const name = c.req.param('job_name');
    const job = state.getJob(name);
    if (!job) return notFound(c, `No job named ${JSON.stringify(name)}.`);
    const now = clock.now();
    const states = statesOf(c);
    const [page, recent, week] = await Promise.all([
      store.listRuns({ job_name: name, states, limit: RUNS_PER_PAGE, cursor: c.req.query('cursor') }),
      store.listRuns({ job_name: name, limit: CHART_RUNS }),
      windowSummary(store, { job_name: name, since: now - 7 * DAY_MS, until: now + 1 }),
    ]);
    // The baseline the detectors use (baseline_runs, baseline_min_samples): the page computed
    // its own over 100 runs from one run on, and showed a baseline the agent was not using.
    const learned = deps.baseline?.(name);
    const chart: ChartRun[] = [];
    for (const r of [...recent.runs].reverse()) {
      if (r.started_at === undefined) continue;
      const end = r.ended_at ?? (r.state === 'running' ? now : undefined);
      if (end === undefined) continue;
      chart.push({ run_id: r.run_id, state: r.state, seconds: Math.max(0, end - r.started_at) / 1000, started_at: r.started_at });
    }
    const path = new URL(c.req.url).pathname;
    return respond(
      c,
      t0,
      <JobPage
        health={await health()}
        refresh={refreshOf(c)}
        now={now}
        job={job}
        latest={state.latestRun(job)}
        expectations={expectationsFor(deps.config, name)}
        baseline={learned === undefined ? undefined : { p95: learned.p95, runs: learned.samples }}
        expected={deps.expectedDuration(name)}
        chart={chart}
        week={week.jobs.get(name) ?? NO_RUNS}
        runs={page.runs}
        nextCursor={page.next_cursor}
        states={states}
        params={new URL(c.req.url).searchParams}
        path={path}
        canDelete={deps.forgetJob !== undefined && deps.config.auth.admin_tokens.length > 0}
      />,
    );
  });

  app.get('/runs/:run_id{.+}', requireRead, async (c) => {
    const t0 = performance.now();
    const id = c.req.param('run_id');
    const run = state.getRun(id) ?? (await store.getRun(id));
    if (!run) return notFound(c, `No run with id ${JSON.stringify(id)}.`);
    const childStates = statesOf(c);
    const [timeline, children] = await Promise.all([
      timelineOf(store, id),
      store.listRuns({ parent_run_id: id, states: childStates, limit: RUNS_PER_PAGE, cursor: c.req.query('cursor') }),
    ]);
    return respond(
      c,
      t0,
      <RunPage
        health={await health()}
        refresh={refreshOf(c)}
        now={clock.now()}
        run={run}
        events={timeline.events}
        omitted={timeline.omitted}
        expected={deps.expectedDuration(run.job_name)}
        batches={children.runs}
        childCursor={children.next_cursor}
        childStates={childStates}
        params={new URL(c.req.url).searchParams}
        path={new URL(c.req.url).pathname}
      />,
    );
  });

  app.get('/groups', requireRead, async (c) => {
    const t0 = performance.now();
    const pg = deps.pushgateway?.();
    if (!pg) return notFound(c, 'The Pushgateway API is disabled (pushgateway.enabled: false).');
    await pg.expire();
    const query = parseGroupsQuery((k) => c.req.query(k));
    const sel = selectGroups(pg.registry.all(), query);
    return respond(
      c,
      t0,
      <GroupsPage
        health={await health()}
        refresh={refreshOf(c)}
        now={clock.now()}
        groups={sel.groups}
        total={sel.total}
        failing={sel.failing}
        all={pg.registry.size}
        query={query}
        params={new URL(c.req.url).searchParams}
        page={sel.page}
        pages={sel.pages}
        canDelete={deps.config.auth.admin_tokens.length > 0}
        notice={c.req.query('deleted') !== undefined ? 'Group deleted.' : undefined}
      />,
    );
  });

  // A form post, so it works without JavaScript. Same-origin only: the browser may hold
  // Basic credentials for this site, and another site must not be able to spend them.
  /** Deletes come from this site's own forms only: a page elsewhere must not post them with the operator's saved credentials. */
  const crossSite = (c: Context): boolean => {
    const origin = c.req.header('origin');
    return c.req.header('sec-fetch-site') === 'cross-site' || (origin !== undefined && origin !== 'null' && new URL(origin).host !== c.req.header('host'));
  };
  const refused = (c: Context) => c.html(doc(<ErrorPage title="Refused" message="Cross-site request refused." health={[]} />), 403);

  app.post('/jobs/delete', guard('admin'), async (c) => {
    if (crossSite(c)) return refused(c);
    const form = await c.req.parseBody();
    const name = form.job_name;
    if (typeof name !== 'string' || name === '') throw new ValidationError([{ path: 'job_name', message: 'expected the name of the job to delete' }]);
    if (!deps.forgetJob || !state.getJob(name)) return notFound(c, `No job ${JSON.stringify(name)} (already deleted?).`);
    await deps.forgetJob(name);
    return c.redirect('/', 303);
  });

  app.post('/groups/delete', guard('admin'), async (c) => {
    if (crossSite(c)) return refused(c);
    const pg = deps.pushgateway?.();
    if (!pg) return notFound(c, 'The Pushgateway API is disabled (pushgateway.enabled: false).');
    const form = await c.req.parseBody();
    const key = form.key;
    if (typeof key !== 'string' || key === '') throw new ValidationError([{ path: 'key', message: 'expected the group key to delete' }]);
    if (!(await pg.remove(key))) return notFound(c, 'No such group (already deleted?).');
    return c.redirect('/groups?deleted', 303);
  });

  return app;
}
