/**
 * Composition root: wires store → state → ingest → sources, the metrics registry and
 * the HTTP app. Returns `{ app, start, stop }`; only main.ts touches `process`.
 */
import { dirname, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { serve } from '@hono/node-server';
import type { Hono } from 'hono';
import { expectationsFor, type Config } from './config/schema.js';
import type { Job } from './domain/job.js';
import { createRetention, type Retention } from './history/retention.js';
import { createApiRoutes } from './http/api-routes.js';
import { createAuth, type Auth } from './http/auth.js';
import { createApp, type Exposer, type ReadinessCheck } from './http/create-app.js';
import { createPageRoutes } from './http/pages/page-routes.js';
import { createPushRoute } from './http/push-routes.js';
import { createIngest, type Ingest, type IngestFn } from './ingest/ingest.js';
import { createBaselines, type Baselines } from './history/baselines.js';
import { createDetectorFamilies } from './metrics/detector-families.js';
import { createDetectorMetrics } from './metrics/detector-metrics.js';
import { CORE_JOB_FAMILIES, createJobExposition, type JobExposition } from './metrics/job-exposition.js';
import { createClockSource, type ClockSource } from './sources/clock/clock-source.js';
import { createBatchIndex, type BatchIndex } from './state/batch-index.js';
import { createSelfMetrics, type SelfMetrics } from './metrics/self-metrics.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { createLogger, type Logger } from './runtime/logger.js';
import type { Source } from './sources/source.js';
import { createSparkSource, type SparkSource } from './sources/spark/spark-source.js';
import { createSparkMetrics } from './metrics/spark-metrics.js';
import { JobState } from './state/job-state.js';
import { createSqliteStore } from './store/sqlite/sqlite-store.js';
import type { Redis } from 'ioredis';
import { createLeasedSource, fencedIngest, type FenceCell, type LeasedSource } from './sources/leased-source.js';
import { isStale, startedAfter, type Store } from './store/store.js';
import { VERSION } from './version.js';
import { createPushgatewayApi, type PushgatewayApi } from './pushgateway/pushgateway-api.js';
import { createPushgatewayFastPath, type FastPath } from './pushgateway/fast-path.js';
import { createPingRoutes } from './ping/ping-routes.js';
import { Counter } from 'prom-client';
import { ALL_METRICS, SELF_METRICS, seriesNames } from './metrics/names.js';

export interface AgentOptions {
  config: Config;
  clock?: Clock;
  logger?: Logger;
  /** Process metrics are off in tests that run many agents in one process. */
  defaultMetrics?: boolean;
}

export interface Agent {
  app: Hono;
  config: Config;
  store: Store;
  state: JobState;
  ingest: Ingest;
  clock: Clock;
  logger: Logger;
  auth: Auth;
  selfMetrics: SelfMetrics;
  jobExposition: JobExposition;
  retention: Retention;
  sources: Source[];
  /** The Spark poller, when spark.clusters is configured. */
  spark?: SparkSource;
  /** The clock source (detectors); undefined when detectors.enabled is false. */
  detectors: ClockSource | undefined;
  baselines: Baselines;
  batches: BatchIndex;
  /** The Pushgateway-compatible API, when enabled and the store keeps groups. */
  pushgateway: PushgatewayApi | undefined;
  /** Expected duration (seconds) of a job: configured max_duration, later the learned baseline. */
  expectedDuration(jobName: string): number | undefined;
  /** Listens on config.http; resolves with the bound port. */
  listen(): Promise<number>;
  /** Stops sources, HTTP, drains the writer, closes the store. Same promise on a second call. */
  stop(): Promise<void>;
}

export async function createAgent(opts: AgentOptions): Promise<Agent> {
  // What start-up opened is closed again if a later step fails (Redis refusing a read, going
  // away during the load): a Redis client left reconnecting kept the process alive, and
  // `serve` logged 'cannot start' and never exited.
  const opened: (() => Promise<void> | void)[] = [];
  try {
    return await assembleAgent(opts, opened);
  } catch (err) {
    for (const close of opened.reverse()) await Promise.resolve().then(close).catch(() => undefined);
    throw err;
  }
}

async function assembleAgent(opts: AgentOptions, opened: (() => Promise<void> | void)[]): Promise<Agent> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.log.level, maxBacklogBytes: config.log.max_backlog_bytes });
  // kafkajs and ioredis are loaded only when configured: together they cost ~20 MB of RSS
  // in an agent that never uses them (measured: bare node 41 MB, importing both 62 MB).
  const redisModule = config.store.kind === 'redis' ? await import('./store/redis/redis-store.js') : undefined;
  const store: Store =
    redisModule
      ? await redisModule.createRedisStore({
          ...config.store.redis,
          onFollowError: (err) => logger.warn('following other replicas failed; retrying', { err }),
          onIndexFilled: (info) => logger.info("redis: each job's ended runs indexed (data written before the index)", info),
          onIndexFillError: (err) => logger.warn("redis: indexing each job's ended runs failed; the next start tries again", { err }),
        })
      : createSqliteStore({ path: config.store.sqlite.path, durability: config.store.sqlite.durability, cacheMb: config.store.sqlite.cache_mb });
  opened.push(() => store.close());
  const state = new JobState(await store.loadState());
  // Shared store: install what other replicas commit, unless memory already holds newer.
  store.follow?.((c) => {
    // A job deleted on another replica goes first: what the same batch brings of it is newer.
    // Unless memory holds it started afresh after the deletion (this replica's commit, ahead of the feed).
    for (const name of c.removed ?? []) if (!startedAfter(state.getJob(name), c.removedAt?.[name])) state.remove(name);
    state.publish(
      c.jobs.filter((j) => !isStale(j, state.getJob(j.job_name))),
      c.runs.filter((r) => !isStale(r, state.getRun(r.run_id))),
    );
  });
  const auth = createAuth(config.auth);

  const batches = createBatchIndex({ state, store });
  await batches.load();
  const baselines = createBaselines({
    store,
    state,
    runs: config.detectors.baseline_runs,
    minSamples: config.detectors.baseline_min_samples,
    logger: logger.child({ component: 'baselines' }),
  });
  await baselines.start();

  // The configured max_duration wins; else the learned p95 (cached, never a query per scrape).
  const expectedDuration = (jobName: string): number | undefined => {
    const max = expectationsFor(config, jobName).max_duration;
    return max === undefined ? baselines.get(jobName)?.p95 : max / 1000;
  };

  // Late-bound so self metrics can read the exposition's counts and the ingest queue.
  let jobExposition: JobExposition | undefined;
  let ingest: Ingest | undefined;
  const selfMetrics = createSelfMetrics({
    version: VERSION,
    pending: () => ingest?.pending() ?? 0,
    jobCounts: () => jobExposition?.counts() ?? { exposed: 0, idle: 0 },
    defaultMetrics: opts.defaultMetrics,
    ...(config.store.kind === 'sqlite' ? { storeDir: dirname(resolve(config.store.sqlite.path)) } : {}),
  });
  ingest = createIngest({
    store,
    state,
    clock,
    logger: logger.child({ component: 'ingest' }),
    maxBatch: config.store.max_batch,
    maxPending: config.store.max_pending,
    maxJobs: config.limits.max_jobs,
    observer: selfMetrics.observer,
    lateEventWindow: (jobName) => expectationsFor(config, jobName).late_event_window,
  });
  // On Redis the singleton sources write under their lease's fencing token (leased-source.ts).
  const fences = new Map<string, FenceCell>();
  const ingestFn = ingest.ingest;
  const singletonIngest = (lease: string): IngestFn => {
    if (config.store.kind !== 'redis') return ingestFn;
    const f = fencedIngest(ingestFn, lease);
    fences.set(lease, f.cell);
    return f.ingest;
  };
  const detectors = config.detectors.enabled
    ? createClockSource({
        ingest: singletonIngest('clock'),
        state,
        config,
        clock,
        logger: logger.child({ source: 'clock' }),
        intervalMs: config.detectors.interval,
        onSweep: createDetectorMetrics(selfMetrics),
        batches: (id) => batches.counts(id),
        baseline: (name) => baselines.get(name),
        runStartsSince: async (jobName, since) => {
          const out: number[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.listRuns({ job_name: jobName, limit: 500, ...(cursor ? { cursor } : {}) });
            for (const r of page.runs) if (r.state !== 'missed') out.push(r.created_at);
            const last = page.runs[page.runs.length - 1];
            cursor = last && last.created_at >= since ? page.next_cursor : undefined;
          } while (cursor);
          return out;
        },
      })
    : undefined;
  jobExposition = createJobExposition({
    state,
    clock,
    idleTtlMs: config.retention.idle_job_ttl,
    expectedDuration,
    families: [
      ...CORE_JOB_FAMILIES,
      ...createDetectorFamilies({
        expectations: (name) => expectationsFor(config, name),
        batches: (id) => batches.counts(id),
        nextExpected: (name) => detectors?.nextExpected(name),
      }),
    ],
  });
  const idleSince = (j: Job, before: number): boolean => j.last_seen_at < before && !state.activeRunOf(j.job_name);
  const retention = createRetention({
    store,
    clock,
    logger: logger.child({ component: 'retention' }),
    config: config.retention,
    pruned: (k, n) => selfMetrics.pruned(k, n),
    prunedRuns: (before) => baselines.pruned(before),
    idleJobs: (before) => [...state.allJobs()].filter((j) => idleSince(j, before)).map((j) => j.job_name),
    forgetJob: (name, before) => ingest.forget(name, { onlyIf: (j) => idleSince(j, before) }),
  });

  const sources: Source[] = [];
  if (detectors) sources.push(detectors);
  const exposers: Exposer[] = [jobExposition];
  // Both checks below may probe the store for one /readyz: they share the probe in flight
  // (each is a committed write) instead of writing twice.
  let probing: Promise<void> | undefined;
  const probe = (): Promise<void> =>
    (probing ??= store.ping().finally(() => {
      probing = undefined;
    }));
  const readiness: ReadinessCheck[] = [
    { name: 'store', check: async () => (await probe(), { ok: true }) },
    {
      name: 'writer',
      check: async () => {
        if (ingest?.healthy()) return { ok: true };
        // A failed last commit stops counting once the store can be written again (ping),
        // so a replica taken out of rotation comes back by itself without needing a push.
        if ((ingest?.pending() ?? 0) < config.store.max_pending) {
          await probe();
          return { ok: true };
        }
        return { ok: false, detail: `writer unhealthy: ${ingest?.pending()} events waiting or last commit failed` };
      },
    },
  ];
  let spark: SparkSource | undefined;
  if (config.spark.clusters.length > 0) {
    const observer = createSparkMetrics(selfMetrics, () => spark?.trackedCounts() ?? {});
    spark = createSparkSource({
      ingest: singletonIngest('spark'),
      state,
      config: config.spark,
      clock,
      logger,
      observer,
      maxErrorMessageLength: config.limits.max_error_message_length,
      maxJobNameLength: config.limits.max_job_name_length,
    });
    sources.push(spark);
    readiness.push(...spark.readiness());
  }
  // Several replicas: the singleton sources (detectors, Spark poller) run on the lease holder only.
  let leaseRedis: Redis | undefined;
  if (redisModule) {
    const { Redis: RedisClient } = await import('ioredis');
    const lr = new RedisClient(config.store.redis.url, { ...redisModule.redisOptions(config.store.redis), lazyConnect: false });
    lr.on('error', () => undefined);
    opened.push(() => lr.disconnect());
    leaseRedis = lr;
    const leased: LeasedSource[] = [];
    sources.forEach((s, i) => {
      const l = createLeasedSource({ source: s, redis: lr, keyPrefix: config.store.redis.key_prefix, ttlMs: config.store.redis.lease_ttl, logger: logger.child({ source: s.name }), fence: fences.get(s.name) });
      leased.push(l);
      sources[i] = l;
    });
    const S = SELF_METRICS;
    selfMetrics.gauge({ name: S.leaseHeld.name, help: S.leaseHeld.help, labelNames: [...S.leaseHeld.labels], collect: (g) => leased.forEach((l) => g.set({ lease: l.name }, l.lease.held() ? 1 : 0)) });
  }
  // Not leased: the consumer group already shares the partitions among replicas.
  if (config.kafka.brokers.length > 0) {
    const { createKafkaSource } = await import('./sources/kafka/kafka-source.js');
    const kafka = createKafkaSource({ ingest: ingest.ingest, config, logger: logger.child({ source: 'kafka' }), clock, selfMetrics });
    sources.push(kafka);
    readiness.push({ name: 'kafka', check: async () => kafka.health() });
  }
  const routes = [
    createApiRoutes({ state, store, clock, auth, expectedDuration, forgetJob: (name) => ingest.forget(name) }),
    // The status page: exact paths only ('/', '/jobs/*', '/runs/*'), so /metrics, /push and /api/* stay as they are.
    createPageRoutes({ state, store, clock, auth, config, readiness, expectedDuration, baseline: (name) => baselines.get(name), pushgateway: () => pushgateway, forgetJob: (name) => ingest.forget(name) }),
  ];
  const pingCounter = new Counter({ name: SELF_METRICS.pings.name, help: SELF_METRICS.pings.help, labelNames: SELF_METRICS.pings.labels, registers: [] });
  selfMetrics.register(pingCounter);
  routes.push(createPingRoutes({ ingest: ingest.ingest, auth, limits: config.limits, maxLogBytes: config.ping.max_log_bytes, observer: { ping: (kind) => pingCounter.inc({ kind }) } }));

  // Pushgateway API: needs a store that persists groups (durable before the 2xx).
  let pushgateway: PushgatewayApi | undefined;
  if (config.pushgateway.enabled && store.groups) {
    const S = SELF_METRICS;
    const pushes = new Counter({ name: S.pushgatewayPushes.name, help: S.pushgatewayPushes.help, labelNames: S.pushgatewayPushes.labels, registers: [] });
    const expired = new Counter({ name: S.pushgatewayExpired.name, help: S.pushgatewayExpired.help, registers: [] });
    const bridgeFailures = new Counter({ name: S.pushgatewayBridgeFailures.name, help: S.pushgatewayBridgeFailures.help, registers: [] });
    for (const c of [pushes, expired, bridgeFailures]) selfMetrics.register(c);
    pushgateway = createPushgatewayApi({
      groups: store.groups,
      ingest: ingest.ingest,
      auth,
      clock,
      logger: logger.child({ source: 'pushgateway' }),
      config: config.pushgateway,
      limits: config.limits,
      observer: {
        push: (method, code) => pushes.inc({ method, code: String(code) }),
        expired: (n) => expired.inc(n),
        bridgeFailed: () => bridgeFailures.inc(),
      },
      reservedNames: () => {
        const names = new Set<string>();
        for (const m of ALL_METRICS) for (const n of seriesNames(m.name, m.type)) names.add(n);
        for (const m of selfMetrics.text.getMetricsAsArray()) for (const n of seriesNames(m.name, String(m.type))) names.add(n);
        return names;
      },
    });
    await pushgateway.load();
    const pg = pushgateway;
    selfMetrics.gauge({ name: S.pushgatewayGroups.name, help: S.pushgatewayGroups.help, collect: (g) => g.set(pg.registry.size) });
    routes.push(pushgateway.routes);
    exposers.push(pushgateway.exposer);
  }
  const httpLogger = logger.child({ component: 'http' });
  const app = createApp({ logger: httpLogger, auth, selfMetrics, exposers, readiness, routes });
  // Plain node:http handlers tried before Hono for the hottest write routes (see fast-path.ts).
  // Hot paths served on node:http in front of Hono: /push and the Pushgateway write routes.
  const fastPaths: FastPath[] = [createPushRoute({ ingest: ingest.ingest, limits: config.limits, auth, clock, selfMetrics, logger: httpLogger })];
  if (pushgateway) fastPaths.push(createPushgatewayFastPath({ api: pushgateway, auth, logger: httpLogger, selfMetrics, maxBodyBytes: config.limits.max_body_bytes }));

  let server: Server | undefined;
  let stopping: Promise<void> | undefined;
  const theIngest = ingest;

  const step = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      logger.error(`shutdown step failed: ${name}`, { err });
    }
  };

  return {
    app,
    config,
    store,
    state,
    ingest: theIngest,
    clock,
    logger,
    auth,
    selfMetrics,
    jobExposition,
    retention,
    sources,
    spark,
    detectors,
    baselines,
    batches,
    pushgateway,
    expectedDuration,
    async listen() {
      for (const s of sources) {
        logger.info('source starting', { source: s.name });
        await s.start();
      }
      retention.start();
      return new Promise<number>((resolve, reject) => {
        const withFastPaths = ((options: object, listener: (req: IncomingMessage, res: ServerResponse) => void) =>
          createServer(options, (req, res) => {
            for (const fast of fastPaths) if (fast(req, res)) return;
            listener(req, res);
          })) as unknown as typeof createServer;
        const srv = serve({ fetch: app.fetch, port: config.http.port, hostname: config.http.host, createServer: withFastPaths }, (info: AddressInfo) => {
          resolve(info.port);
        }) as Server;
        srv.keepAliveTimeout = 65_000;
        srv.once('error', reject);
        server = srv;
      });
    },
    stop() {
      stopping ??= (async () => {
        logger.info('shutting down');
        for (const s of sources) await step(`source ${s.name}`, () => s.stop());
        await step('retention', () => retention.stop());
        await step('http', () =>
          server
            ? new Promise<void>((resolve) => {
                const srv = server as Server;
                // In-flight requests get a grace period; then connections still open are cut.
                const force = setTimeout(() => srv.closeAllConnections(), 3000);
                srv.close(() => {
                  clearTimeout(force);
                  resolve();
                });
                srv.closeIdleConnections();
              })
            : undefined,
        );
        // Pushes whose clients left (or were cut above) may still be writing their groups.
        await step('pushgateway', () => pushgateway?.drain());
        await step('writer', () => theIngest.drain());
        await step('detector indexes', () => (batches.stop(), baselines.stop()));
        await step('lease connection', () => leaseRedis?.disconnect());
        await step('store', () => store.close());
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
