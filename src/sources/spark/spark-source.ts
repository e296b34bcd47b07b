/**
 * The Spark poller: asks each configured cluster, every `interval`, what its tracked
 * applications are doing, and hands the changes to ingest as events of source
 * `spark:<cluster>`.
 *
 * A run is tracked when it is unfinished and its labels carry the id the cluster knows
 * it by (SPARK_LABELS: `spark_submission_id`, `spark_app_id`, `livy_batch_id`, with
 * `spark_cluster` naming the cluster when more than one is configured). Discovery (per
 * cluster, off by default) lists the cluster's active applications and creates a run for
 * each one not yet known, labelled the same way — so from the next cycle on a discovered
 * run is just another tracked run, polled until terminal. Applications that start and
 * finish between two listings are not discovered.
 *
 * Load on the cluster: one cycle at a time per cluster (a cycle still running when the
 * timer fires is joined, never doubled), at most `max_concurrent` requests in flight, a
 * per-request timeout, and while whole cycles fail the next one waits
 * interval × 2^failures (capped at max_backoff) with jitter, so a cluster coming back is
 * not hit by every agent at once. Errors are counted per request and logged once per
 * cycle with the cluster and one example run, not once per run.
 *
 * The tracked set is read from the state at the start of each cycle, so a run pushed
 * with a Spark label is picked up without any registration, and a terminal run drops out.
 */
import { isTerminal, type Run } from '../../domain/run.js';
import type { IngestFn } from '../../ingest/ingest.js';
import { fitName } from '../../ingest/validate.js';
import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { JobState } from '../../state/job-state.js';
import type { SparkClusterConfig, SparkConfig } from '../../config/spark-config.js';
import type { EventDraft } from '../../domain/job-event.js';
import type { Source, SourceHealth } from '../source.js';
import { SPARK_LABELS, type SparkApi, type SparkKind } from './api.js';
import { draftsFor } from './drafts.js';
import { handOver } from './hand-over.js';
import { createSparkHttp, PollError, type FetchFn, type PollResult, type SparkHttp } from './http-client.js';
import { livyApi } from './livy.js';
import { monitoringApi } from './monitoring-api.js';
import type { SparkObservation } from './observation.js';
import { standaloneMasterApi } from './standalone-master.js';
import { standaloneRestApi } from './standalone-rest.js';
import { yarnApi } from './yarn.js';

export const SPARK_APIS: Readonly<Record<SparkKind, SparkApi>> = {
  'standalone-rest': standaloneRestApi,
  'monitoring-api': monitoringApi,
  'standalone-master': standaloneMasterApi,
  yarn: yarnApi,
  livy: livyApi,
};

/** Where the poller reports its own health (implemented on SelfMetrics by metrics/spark-metrics.ts). */
export interface SparkObserver {
  request(cluster: string, result: PollResult, seconds: number): void;
  cycle(cluster: string, seconds: number): void;
}

export interface CycleReport {
  cluster: string;
  /** Unfinished runs followed on this cluster at the end of the cycle. */
  tracked: number;
  /** Tracked runs asked about this cycle. */
  polled: number;
  /** Runs created by discovery this cycle. */
  discovered: number;
  /** Runs discovery found that ingest refused: their new job is past limits.max_jobs. */
  refused: number;
  /** Events handed to ingest. */
  emitted: number;
  requests: number;
  /** Failed requests (and tracked ids missing from a listing) by result. */
  errors: Partial<Record<Exclude<PollResult, 'ok'>, number>>;
  /** Every request of the cycle failed: the cluster is down or unreachable. */
  failed: boolean;
  consecutive_failures: number;
  duration_ms: number;
  next_delay_ms: number;
}

export interface SparkSource extends Source {
  /** Runs one cycle for every cluster (or the named one) now; joins a cycle already running. */
  cycle(cluster?: string): Promise<CycleReport[]>;
  /** Unfinished runs followed per cluster, as of the last cycle. */
  trackedCounts(): Record<string, number>;
  readiness(): { name: string; check(): Promise<SourceHealth> }[];
}

export interface SparkSourceDeps {
  ingest: IngestFn;
  state: Pick<JobState, 'allRuns' | 'getRun'>;
  config: SparkConfig;
  clock: Clock;
  logger: Logger;
  fetch?: FetchFn;
  observer?: SparkObserver;
  maxErrorMessageLength?: number;
  /** limits.max_job_name_length: discovered job names are cut there. */
  maxJobNameLength?: number;
  /** For the backoff jitter; tests pass a fixed one. */
  random?: () => number;
}

/** Cycles failing in a row before the cluster reports not ready. */
export const UNREADY_AFTER_FAILURES = 3;

interface Tracked {
  run: Run;
  id: string;
}

interface Cluster {
  cfg: SparkClusterConfig;
  api: SparkApi;
  http: SparkHttp;
  stats: { requests: number; ok: number; errors: Map<Exclude<PollResult, 'ok'>, number>; sample?: { message: string; run_id?: string } };
  running?: Promise<CycleReport>;
  timer?: NodeJS.Timeout;
  failures: number;
  tracked: number;
  lastError?: string;
  stripRe?: RegExp;
}

export function createSparkSource(deps: SparkSourceDeps): SparkSource {
  const { ingest, state, clock, observer } = deps;
  const logger = deps.logger.child({ source: 'spark' });
  const random = deps.random ?? Math.random;
  const maxErrorMessageLength = deps.maxErrorMessageLength ?? 8192;
  const maxJobNameLength = deps.maxJobNameLength ?? 200;
  const single = deps.config.clusters.length === 1;
  let stopped = false;
  let started = false;

  const clusters: Cluster[] = deps.config.clusters.map((cfg) => {
    const c: Cluster = {
      cfg,
      api: SPARK_APIS[cfg.kind],
      http: undefined as unknown as SparkHttp,
      stats: { requests: 0, ok: 0, errors: new Map() },
      failures: 0,
      tracked: 0,
      stripRe: cfg.discovery.job_name_strip ? new RegExp(cfg.discovery.job_name_strip, 'g') : undefined,
    };
    c.http = createSparkHttp({
      baseUrl: cfg.base_url,
      timeoutMs: cfg.request_timeout,
      maxBytes: cfg.max_response_bytes,
      maxConcurrent: cfg.max_concurrent,
      fetch: deps.fetch,
      onResult(result, seconds) {
        c.stats.requests += 1;
        if (result === 'ok') c.stats.ok += 1;
        observer?.request(cfg.name, result, seconds);
      },
    });
    return c;
  });

  const record = (c: Cluster, err: unknown, runId?: string): void => {
    const e = err instanceof PollError ? err : new PollError('unexpected', (err as Error)?.message ?? String(err));
    c.stats.errors.set(e.result, (c.stats.errors.get(e.result) ?? 0) + 1);
    c.stats.sample ??= { message: e.message, ...(runId ? { run_id: runId } : {}) };
  };

  const idOf = (c: Cluster, run: Run): string | undefined => {
    const label = run.labels[SPARK_LABELS.cluster];
    if (label !== undefined ? label !== c.cfg.name : !single) return undefined;
    for (const l of c.api.idLabels) if (run.labels[l]) return run.labels[l];
    return undefined;
  };

  const jobNameFor = (c: Cluster, obs: SparkObservation): string => {
    const rawName = c.cfg.discovery.job_name_field === 'id' ? obs.id : (obs.name ?? obs.id);
    const stripped = c.stripRe ? rawName.replace(c.stripRe, '') : rawName;
    const cleaned = stripped.replace(/^[-_. ]+|[-_. ]+$/g, '').trim();
    // An application name can hold anything; a job name follows the rule of every way in.
    return fitName(cleaned === '' ? rawName : cleaned, maxJobNameLength, obs.id);
  };

  async function runCycle(c: Cluster): Promise<CycleReport> {
    const t0 = performance.now();
    c.stats = { requests: 0, ok: 0, errors: new Map() };
    const now = clock.now();
    // Changes of followed runs, and each discovered run's events apart (hand-over.ts).
    const drafts: EventDraft[] = [];
    const discoveredDrafts: EventDraft[][] = [];
    // Within one cycle a path is fetched once: master /json serves discovery and every tracked id.
    const seen = new Map<string, Promise<unknown>>();
    const http: SparkHttp = {
      getJson(path) {
        let p = seen.get(path);
        if (!p) seen.set(path, (p = c.http.getJson(path)));
        return p;
      },
    };
    const ctx = (run: { job_name: string; run_id: string }, labels?: Record<string, string>) => ({
      cluster: c.cfg.name,
      job_name: run.job_name,
      run_id: run.run_id,
      now,
      maxErrorMessageLength,
      ...(labels ? { labels } : {}),
    });

    // 1. The tracked set, from the state: unfinished runs carrying this cluster's ids.
    const tracked: Tracked[] = [];
    const known = new Set<string>();
    for (const run of state.allRuns()) {
      const id = idOf(c, run);
      if (id === undefined) continue;
      known.add(id);
      if (!isTerminal(run.state)) tracked.push({ run, id });
    }

    // 2. Discovery: active applications nobody tracks yet become runs.
    let discovered = 0;
    if (c.cfg.discovery.enabled && c.api.discover) {
      try {
        for (const obs of await c.api.discover(http)) {
          const runId = `spark-${c.cfg.name}-${obs.id}`;
          if (known.has(obs.id) || state.getRun(runId)) continue;
          known.add(obs.id);
          const labels: Record<string, string> = { [SPARK_LABELS.cluster]: c.cfg.name, [c.api.idLabels[0] as string]: obs.id };
          if (obs.app_id && c.api.idLabels[0] !== SPARK_LABELS.appId) labels[SPARK_LABELS.appId] = obs.app_id;
          const out = draftsFor(obs, undefined, ctx({ job_name: jobNameFor(c, obs), run_id: runId }, labels));
          if (out.length > 0) {
            discovered += 1;
            discoveredDrafts.push(out);
          }
        }
      } catch (err) {
        record(c, err);
      }
    }

    // 3. Poll every tracked run (bounded by the cluster's limiter inside http).
    const apply = (t: Tracked, obs: SparkObservation): void => {
      drafts.push(...draftsFor(obs, t.run, ctx(t.run)));
    };
    if (tracked.length > 0) {
      if (c.api.pollMany) {
        try {
          const byId = await c.api.pollMany(http, tracked.map((t) => t.id));
          for (const t of tracked) {
            const obs = byId.get(t.id);
            if (obs) apply(t, obs);
            else record(c, new PollError('not_found', `${t.id} is not in the cluster's listing`), t.run.run_id);
          }
        } catch (err) {
          record(c, err);
        }
      } else if (c.api.poll) {
        const poll = c.api.poll.bind(c.api);
        await Promise.all(
          tracked.map(async (t) => {
            try {
              apply(t, await poll(http, t.id));
            } catch (err) {
              record(c, err, t.run.run_id);
            }
          }),
        );
      }
    }

    // 4. One ingest call per cycle: one group commit for all of the cycle's changes.
    // Handed over even if stop() came during the cycle: what Spark said is a fact. Whether a
    // replica that lost its lease meanwhile may still write is decided by the store, atomically
    // with the commit (fencing token, leased-source.ts); a local "stopped?" check here would
    // be racy by nature (a pause right after it is exactly what fencing exists for). On
    // shutdown the agent stops sources before it drains ingest, so these events are kept.
    let emitted = 0;
    let refused = 0;
    try {
      const handed = await handOver(ingest, drafts, discoveredDrafts);
      emitted = handed.emitted;
      refused = handed.refusedRuns;
      discovered -= refused;
      if (refused > 0)
        logger.warn('spark discovery refused runs: job limit reached (limits.max_jobs)', { cluster: c.cfg.name, refused, job_name: handed.refusedJob });
    } catch (err) {
      const events = drafts.length + discoveredDrafts.reduce((n, d) => n + d.length, 0);
      logger.error('spark cycle could not hand its events to ingest; they are retried next cycle', { cluster: c.cfg.name, events, err });
      // Nothing of the cycle is durable: the runs discovery proposed do not exist.
      discovered = 0;
    }

    const errorCount = [...c.stats.errors.values()].reduce((a, b) => a + b, 0);
    const hardErrors = [...c.stats.errors.entries()].filter(([k]) => k !== 'not_found').reduce((a, [, n]) => a + n, 0);
    const failed = c.stats.requests > 0 && c.stats.ok === 0 && hardErrors > 0;
    c.failures = failed ? c.failures + 1 : 0;
    c.lastError = c.stats.sample?.message;
    c.tracked = tracked.length + discovered;
    const base = failed ? Math.min(c.cfg.max_backoff, c.cfg.interval * 2 ** c.failures) : c.cfg.interval;
    // Equal jitter: never sooner than half the backoff, never later than all of it.
    const next = failed ? Math.round(base / 2 + (random() * base) / 2) : base;
    const duration = performance.now() - t0;
    observer?.cycle(c.cfg.name, duration / 1000);

    const report: CycleReport = {
      cluster: c.cfg.name,
      tracked: c.tracked,
      polled: tracked.length,
      discovered,
      refused,
      emitted,
      requests: c.stats.requests,
      errors: Object.fromEntries(c.stats.errors),
      failed,
      consecutive_failures: c.failures,
      duration_ms: Math.round(duration * 10) / 10,
      next_delay_ms: next,
    };
    const fields = { cluster: c.cfg.name, polled: report.polled, discovered, emitted, requests: report.requests, duration_ms: report.duration_ms };
    if (errorCount > 0) {
      logger.warn(failed ? 'spark cluster unreachable; backing off' : 'spark poll errors', {
        ...fields,
        errors: report.errors,
        first_error: c.stats.sample?.message,
        run_id: c.stats.sample?.run_id,
        consecutive_failures: c.failures,
        next_delay_ms: next,
      });
    } else if (emitted > 0) logger.info('spark cycle', fields);
    else logger.debug('spark cycle', fields);
    return report;
  }

  const cycleOf = (c: Cluster): Promise<CycleReport> => {
    // Non-overlapping: a second call while a cycle runs gets that cycle's report.
    c.running ??= runCycle(c).finally(() => {
      c.running = undefined;
    });
    return c.running;
  };

  const schedule = (c: Cluster, delay: number): void => {
    if (stopped) return;
    c.timer = setTimeout(() => {
      void cycleOf(c)
        .then((r) => schedule(c, r.next_delay_ms))
        .catch((err: unknown) => {
          logger.error('spark cycle crashed; next one as scheduled', { cluster: c.cfg.name, err });
          schedule(c, c.cfg.interval);
        });
    }, delay);
    c.timer.unref();
  };

  const healthOf = (c: Cluster): SourceHealth =>
    c.failures >= UNREADY_AFTER_FAILURES
      ? { ok: false, detail: `spark cluster ${c.cfg.name}: ${c.failures} cycles failed in a row; last error: ${c.lastError ?? 'unknown'}` }
      : { ok: true };

  return {
    name: 'spark',
    async start() {
      // Restartable: on Redis a replica stops and starts the poller as it loses and wins the lease.
      if (started && !stopped) return;
      started = true;
      stopped = false;
      logger.info('spark poller starting', {
        clusters: clusters.map((c) => ({ name: c.cfg.name, kind: c.cfg.kind, base_url: c.cfg.base_url, interval_ms: c.cfg.interval, discovery: c.cfg.discovery.enabled })),
      });
      // The first cycle comes one interval after start, like every later one.
      for (const c of clusters) schedule(c, c.cfg.interval);
    },
    async stop() {
      stopped = true;
      for (const c of clusters) if (c.timer) clearTimeout(c.timer);
      await Promise.allSettled(clusters.map((c) => c.running));
    },
    health() {
      const bad = clusters.map(healthOf).filter((h) => !h.ok);
      return bad.length === 0 ? { ok: true } : { ok: false, detail: bad.map((b) => b.detail).join('; ') };
    },
    async cycle(name) {
      const chosen = name === undefined ? clusters : clusters.filter((c) => c.cfg.name === name);
      return Promise.all(chosen.map(cycleOf));
    },
    trackedCounts() {
      return Object.fromEntries(clusters.map((c) => [c.cfg.name, c.tracked]));
    },
    readiness() {
      return clusters.map((c) => ({ name: `spark:${c.cfg.name}`, check: async () => healthOf(c) }));
    },
  };
}
