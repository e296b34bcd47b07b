/**
 * A fake Spark / YARN / Livy HTTP server for tests: node:http on a free loopback port,
 * serving the REAL fixture files of test/fixtures/spark (see PROVENANCE.md there).
 * Bodies are served byte-for-byte as collected; where a test needs another id, a later
 * time or more progress, the variant is derived in code from a real fixture (`variant`).
 *
 * Each path answers from a sequence: every GET takes the next body, the last one
 * repeats — so `submitted → running (growing progress) → finished` is a list.
 * Faults replace answers on a path (or on every path): slow, 500, HTML error page,
 * invalid JSON, truncated body, 404. The server counts requests and the most it ever
 * had in flight at once, which is how the poller's concurrency bound is proven.
 *
 * Replicas: an agent given `replicaUrl(name)` as its base URL reaches the same routes
 * under `/replica/<name>`; the server counts requests per replica and the most replicas
 * it ever had requests in flight from at once (`maxPollersAtOnce`), which is how "only
 * the lease holder polls" is proven, and can hold one replica's answers (`setReplicaLatency`).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/spark/', import.meta.url));

/** A fixture file's text, unmodified. */
export const fixture = (path: string): string => readFileSync(`${FIXTURES}${path}`, 'utf8');
export const fixtureJson = <T = any>(path: string): T => JSON.parse(fixture(path)) as T;

/** A variant derived from a real fixture: parse, change, re-serialise (2-space indent). */
export function variant(path: string, change: (body: any) => void): string {
  const body = fixtureJson(path);
  change(body);
  return JSON.stringify(body, null, 2);
}

export interface Answer {
  status?: number;
  body: string;
  contentType?: string;
  /** ms before the answer is written. */
  delayMs?: number;
  /** Declare a longer body than is sent, then cut the connection. */
  truncate?: boolean;
}

export type Fault = 'slow' | 'http_500' | 'html' | 'invalid_json' | 'truncated' | 'not_found';

export interface FakeSpark {
  url: string;
  port: number;
  /** Answers for a path (pathname, no query), served in order, the last one repeating. */
  route(path: string, answers: (string | Answer)[]): void;
  /** An answer computed from the request's query (a paged listing); takes precedence over `route`. */
  routeQuery(path: string, answer: (query: URLSearchParams) => string | Answer): void;
  /** Replaces every answer on `path` (or every path with '*') by a fault until cleared. */
  fault(path: string, fault: Fault, opts?: { delayMs?: number }): void;
  clearFaults(): void;
  /** Delay every answer by this many ms (to make concurrency visible). */
  setLatency(ms: number): void;
  requests: number;
  inFlight: number;
  maxInFlight: number;
  hits(path: string): number;
  /** Base URL for one replica; its requests are counted under `name`. */
  replicaUrl(name: string): string;
  /** Requests and requests in flight per replica. */
  replicas: Map<string, { requests: number; inFlight: number }>;
  /** The most distinct replicas that had a request in flight at the same moment. */
  maxPollersAtOnce: number;
  /** Delay every answer to this replica by `ms` (in addition to the global latency). */
  setReplicaLatency(name: string, ms: number): void;
  resetStats(): void;
  close(): Promise<void>;
}

const FAULTS: Record<Exclude<Fault, 'slow'>, Answer> = {
  http_500: { status: 500, body: variant('standalone-rest/error_response.protocol-suite.json', (b) => (b.message = 'Internal error')) },
  // A proxy's error page served with 200 (as SSO/ingress proxies do): only the body says it is not JSON.
  html: { status: 200, contentType: 'text/html', body: '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>' },
  invalid_json: { status: 200, body: '{"action" : "SubmissionStatusResponse", "driverState" : RUNNING' },
  truncated: { status: 200, body: fixture('yarn/constructed_app_running.json'), truncate: true },
  not_found: { status: 404, contentType: 'text/plain', body: 'unknown app: vanished' },
};

export async function startFakeSpark(): Promise<FakeSpark> {
  const routes = new Map<string, { answers: Answer[]; next: number }>();
  const queryRoutes = new Map<string, (query: URLSearchParams) => string | Answer>();
  const faults = new Map<string, { fault: Fault; delayMs: number }>();
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  let latency = 0;
  const replicaLatency = new Map<string, number>();

  const toAnswer = (a: string | Answer): Answer => (typeof a === 'string' ? { body: a } : a);

  const fake: FakeSpark = {
    url: '',
    port: 0,
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    replicas: new Map(),
    maxPollersAtOnce: 0,
    replicaUrl: (name) => `${fake.url}/replica/${name}`,
    setReplicaLatency(name, ms) {
      replicaLatency.set(name, ms);
    },
    route(path, answers) {
      routes.set(path, { answers: answers.map(toAnswer), next: 0 });
    },
    routeQuery(path, answer) {
      queryRoutes.set(path, answer);
    },
    fault(path, fault, opts = {}) {
      faults.set(path, { fault, delayMs: opts.delayMs ?? 2_000 });
    },
    clearFaults() {
      faults.clear();
    },
    setLatency(ms) {
      latency = ms;
    },
    hits: (path) => hits.get(path) ?? 0,
    resetStats() {
      fake.requests = 0;
      for (const r of fake.replicas.values()) r.requests = 0;
      fake.maxPollersAtOnce = [...fake.replicas.values()].filter((r) => r.inFlight > 0).length;
      fake.maxInFlight = fake.inFlight;
      hits.clear();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };

  const pick = (path: string, query: URLSearchParams): Answer => {
    const q = queryRoutes.get(path);
    if (q && !faults.has(path) && !faults.has('*')) return toAnswer(q(query));
    const f = faults.get(path) ?? faults.get('*');
    if (f) {
      if (f.fault === 'slow') {
        const real = routes.get(path);
        return { ...(real ? (real.answers[Math.min(real.next, real.answers.length - 1)] as Answer) : { body: '{}' }), delayMs: f.delayMs };
      }
      return FAULTS[f.fault];
    }
    const r = routes.get(path);
    if (!r) return { status: 404, contentType: 'text/plain', body: `unknown app: ${path.split('/').pop() ?? ''}` };
    const a = r.answers[Math.min(r.next, r.answers.length - 1)] as Answer;
    r.next += 1;
    return a;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    let path = url.pathname;
    const m = /^\/replica\/([^/]+)(\/.*)$/.exec(path);
    const replica = m ? (m[1] as string) : undefined;
    if (m) path = m[2] as string;
    let per: { requests: number; inFlight: number } | undefined;
    if (replica !== undefined) {
      per = fake.replicas.get(replica) ?? { requests: 0, inFlight: 0 };
      fake.replicas.set(replica, per);
      per.requests += 1;
      per.inFlight += 1;
      fake.maxPollersAtOnce = Math.max(fake.maxPollersAtOnce, [...fake.replicas.values()].filter((r) => r.inFlight > 0).length);
    }
    fake.requests += 1;
    fake.inFlight += 1;
    fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      fake.inFlight -= 1;
      if (per) per.inFlight -= 1;
    };
    res.on('close', finish);
    const a = pick(path, url.searchParams);
    const write = (): void => {
      if (res.destroyed) return finish();
      const body = Buffer.from(a.body);
      res.writeHead(a.status ?? 200, {
        'content-type': a.contentType ?? 'application/json',
        'content-length': String(a.truncate ? body.length + 500 : body.length),
      });
      if (a.truncate) {
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        setTimeout(() => res.destroy(), 5);
      } else res.end(body);
    };
    const delay = (a.delayMs ?? 0) + latency + (replica !== undefined ? (replicaLatency.get(replica) ?? 0) : 0);
    if (delay > 0) setTimeout(write, delay);
    else write();
  };

  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.port = (server.address() as AddressInfo).port;
  fake.url = `http://127.0.0.1:${fake.port}`;
  return fake;
}

/* ---- Sequences built from the real fixtures ---- */

/** Standalone REST status answers for one driver: submitted → running → outcome. */
export function standaloneSequence(id: string, outcome: 'finished' | 'failed' | 'killed' | 'error'): string[] {
  const withId = (file: string): string => variant(`standalone-rest/${file}`, (b) => (b.submissionId = id));
  return [withId('constructed_status_submitted.json'), withId('constructed_status_running.json'), withId(`constructed_status_${outcome}.json`)];
}

/** YARN app answers: accepted → running → outcome, with the app's id. */
export function yarnSequence(id: string, outcome: 'finished_succeeded' | 'finished_failed' | 'failed' | 'killed'): string[] {
  const withId = (file: string): string =>
    variant(`yarn/${file}`, (b) => {
      b.app.trackingUrl = String(b.app.trackingUrl).replaceAll(b.app.id, id);
      b.app.id = id;
    });
  return [withId('constructed_app_accepted.json'), withId('constructed_app_running.json'), withId(`constructed_app_${outcome}.json`)];
}

/**
 * Livy's `GET /batches` as its SessionServlet pages it: `size` sessions (default 100) from
 * `from` (default 0), with the `total`; each session derived from the real list fixture's.
 */
export function livyBatchList(batches: { id: number; name: string; state: string }[]): (query: URLSearchParams) => string {
  const [shape] = fixtureJson<{ sessions: Record<string, unknown>[] }>('livy/constructed_batches_list.json').sessions;
  return (query) => {
    const from = Number(query.get('from') ?? 0);
    const size = Number(query.get('size') ?? 100);
    const sessions = batches.slice(from, from + size).map((b) => ({ ...shape, ...b, appId: `application_1700840000000_${String(b.id).padStart(4, '0')}` }));
    return JSON.stringify({ from, total: batches.length, sessions });
  };
}

/** Livy batch answers: starting → running → outcome, with the batch id. */
export function livySequence(id: number, outcome: 'success' | 'dead' | 'killed'): string[] {
  const withId = (file: string): string => variant(`livy/${file}`, (b) => (b.id = id));
  return [withId('constructed_batch_post_response_starting.json'), withId('constructed_batch_running.json'), withId(`constructed_batch_${outcome}.json`)];
}

/**
 * Monitoring API answers for one app: the running app (from the real running-app list)
 * with jobs whose completed indices grow by `steps`, then the completed app.
 */
export function monitoringSequence(appId: string, steps: number[]): { app: string[]; jobs: string[] } {
  const running = variant('monitoring-api/running_app_list_json_expectation.json', () => undefined);
  const runningApp = JSON.parse(running)[0];
  runningApp.id = appId;
  const app = steps.map(() => JSON.stringify(runningApp, null, 2));
  const jobs = steps.map((done) =>
    variant('monitoring-api/constructed_running_job_list.json', (list) => {
      list[0].numCompletedIndices = done;
      list[0].numCompletedTasks = done;
    }),
  );
  const completed = variant('monitoring-api/one_app_json_expectation.json', (b) => (b.id = appId));
  app.push(completed);
  jobs.push(fixture('monitoring-api/job_list_from_multi_attempt_app_json_1__expectation.json'));
  return { app, jobs };
}
