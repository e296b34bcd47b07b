/** REST API v1 (JSON): current state from memory, history from the store. */
import { Hono, type Context } from 'hono';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import type { Job } from '../domain/job.js';
import { RUN_STATES, type Run, type RunState } from '../domain/run.js';
import { windowStats, windowSummary } from '../history/stats.js';
import { eventView, jobView, runView } from '../history/views.js';
import type { Clock } from '../runtime/clock.js';
import { parseDuration } from '../runtime/duration.js';
import type { JobState } from '../state/job-state.js';
import { decodeCursor } from '../store/run-cursor.js';
import type { Store } from '../store/store.js';
import type { Auth } from './auth.js';
import { streamJsonList } from './json-stream.js';

export interface ApiDeps {
  state: JobState;
  store: Store;
  clock: Clock;
  auth: Auth;
  expectedDuration: (jobName: string) => number | undefined;
  /** Deletes a job with its runs and events (ingest's `forget`). */
  forgetJob: (jobName: string) => Promise<{ runs: number; events: number }>;
}

const parseStates = (v: string | undefined): RunState[] | undefined => {
  if (!v) return undefined;
  const states = v.split(',').map((s) => s.trim());
  const bad = states.filter((s) => !(RUN_STATES as readonly string[]).includes(s));
  if (bad.length > 0) throw new ValidationError([{ path: 'state', message: `unknown state ${bad.join(', ')}; expected ${RUN_STATES.join(', ')}` }]);
  return states as RunState[];
};

const parseLimit = (v: string | undefined, def: number, max: number): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ValidationError([{ path: 'limit', message: `expected an integer from 1 to ${max}` }]);
  return n;
};

export function createApiRoutes(deps: ApiDeps): Hono {
  const { state, store, clock } = deps;
  const app = new Hono();
  app.use('/api/*', deps.auth.require('read'));

  /**
   * Every job by name, or a page of them (`?limit=` up to 10000, `?cursor=` the last name of
   * the previous page, `next_cursor` while more follow). Streamed: see json-stream.ts.
   */
  app.get('/api/v1/jobs', (c) => {
    const states = parseStates(c.req.query('state'));
    const limit = c.req.query('limit') === undefined ? undefined : parseLimit(c.req.query('limit'), 0, 10_000);
    const cursor = c.req.query('cursor');
    const now = clock.now();
    let picked: { job: Job; latest: Run | undefined }[] = [];
    for (const job of state.allJobs()) {
      if (cursor !== undefined && job.job_name <= cursor) continue;
      const latest = state.latestRun(job);
      if (states && !(latest && states.includes(latest.state))) continue;
      picked.push({ job, latest });
    }
    picked.sort((a, b) => (a.job.job_name < b.job.job_name ? -1 : 1));
    let next_cursor: string | undefined;
    if (limit !== undefined && picked.length > limit) {
      picked = picked.slice(0, limit);
      next_cursor = picked[limit - 1]?.job.job_name;
    }
    c.header('Content-Type', 'application/json');
    const view = ({ job, latest }: (typeof picked)[number]) => jobView(job, latest, now, deps.expectedDuration(job.job_name));
    return c.body(streamJsonList('jobs', picked, view, limit === undefined ? {} : { tail: { next_cursor: next_cursor ?? null } }));
  });

  app.get('/api/v1/jobs/:job_name', (c) => {
    const name = c.req.param('job_name');
    const job = state.getJob(name);
    if (!job) throw new NotFoundError(`unknown job ${JSON.stringify(name)}`);
    return c.json(jobView(job, state.latestRun(job), clock.now(), deps.expectedDuration(name)));
  });

  /**
   * Deletes a job: it leaves /metrics, the jobs list and the status page, its runs and their
   * events leave the history, and its slot under limits.max_jobs is free. Admin only.
   */
  app.delete('/api/v1/jobs/:job_name', deps.auth.require('admin'), async (c) => {
    const name = c.req.param('job_name');
    const gone = await deps.forgetJob(name);
    return c.json({ deleted: name, runs: gone.runs, events: gone.events });
  });

  /** One page of runs as views: `?state=` filter, `?limit=` (up to 1000), `?cursor=` from the previous page. */
  const runsPage = async (c: Context, filter: { job_name: string } | { parent_run_id: string }, defaultLimit: number) => {
    const cursor = c.req.query('cursor');
    // The stores read a cursor they cannot decode as none: a client looping over pages with a
    // mangled cursor got page 1 again and again.
    if (cursor && decodeCursor(cursor) === undefined)
      throw new ValidationError([{ path: 'cursor', message: 'not a cursor of this listing: pass next_cursor from the previous page unchanged' }]);
    const page = await store.listRuns({
      ...filter,
      states: parseStates(c.req.query('state')),
      limit: parseLimit(c.req.query('limit'), defaultLimit, 1000),
      cursor,
    });
    const now = clock.now();
    // `null` at the end, as documented (and as /api/v1/jobs gives it): a client reading the
    // key found none on the last page.
    return { runs: page.runs.map((r) => runView(r, now)), next_cursor: page.next_cursor ?? null };
  };
  /** A run from memory, else from the store's history, else 404. */
  const knownRun = async (id: string) => {
    const run = state.getRun(id) ?? (await store.getRun(id));
    if (!run) throw new NotFoundError(`unknown run ${JSON.stringify(id)}`);
    return run;
  };

  app.get('/api/v1/jobs/:job_name/runs', async (c) => {
    const name = c.req.param('job_name');
    if (!state.getJob(name)) throw new NotFoundError(`unknown job ${JSON.stringify(name)}`);
    return c.json(await runsPage(c, { job_name: name }, 50));
  });

  app.get('/api/v1/runs/:run_id', async (c) => {
    const id = c.req.param('run_id');
    const run = await knownRun(id);
    const events = await store.listEvents(id);
    // A run heartbeating for days has tens of thousands of events: streamed (json-stream.ts).
    c.header('Content-Type', 'application/json');
    return c.body(streamJsonList('events', events, eventView, { head: runView(run, clock.now()) as unknown as Record<string, unknown> }));
  });

  // A parent's child batches (state, duration, error, metadata), filterable by state.
  app.get('/api/v1/runs/:run_id/children', async (c) => {
    const id = c.req.param('run_id');
    await knownRun(id);
    const page = await runsPage(c, { parent_run_id: id }, 100);
    return c.json({ parent_run_id: id, children: page.runs, next_cursor: page.next_cursor ?? null });
  });

  app.get('/api/v1/stats', async (c) => {
    const windowMs = parseDuration(c.req.query('window') ?? '24h');
    if (windowMs === undefined || windowMs <= 0) throw new ValidationError([{ path: 'window', message: 'expected a duration like 1h, 24h or 7d' }]);
    const jobName = c.req.query('job_name');
    if (jobName !== undefined && !state.getJob(jobName)) throw new NotFoundError(`unknown job ${JSON.stringify(jobName)}`);
    const now = clock.now();
    const q = jobName !== undefined ? { job_name: jobName } : {};
    const [current, previous] = await Promise.all([
      windowSummary(store, { ...q, since: now - windowMs, until: now }),
      windowSummary(store, { ...q, since: now - 2 * windowMs, until: now - windowMs }),
    ]);
    return c.json({ window_seconds: windowMs / 1000, until: new Date(now).toISOString(), ...windowStats(current, previous) });
  });

  return app;
}
