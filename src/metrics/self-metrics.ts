/**
 * The agent's own health (jobpulse_* and process metrics) on prom-client, on registries
 * owned by this agent instance — never the global one, so tests can run several agents
 * in one process. One registry renders the text format; OpenMetrics is derived from that
 * text (`render`): a second registry holding the same objects, as before, broke the text
 * format for good after the first OpenMetrics scrape (prom-client 15.1.3's OpenMetrics render
 * strips `_total` from each counter's own name, so later text scrapes said
 * `jobpulse_store_errors` and the alert rules matched nothing for text-format scrapers).
 */
import { statfsSync, type StatsFs } from 'node:fs';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ExpositionFormat } from './exposition-format.js';
import type { IngestObserver } from '../ingest/ingest.js';
import { SELF_METRICS as S } from './names.js';

/** Default metrics of prom-client that are gauges named like counters. */
const NON_COUNTER_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface SelfMetrics {
  text: Registry;
  /** The self metrics in either format (OpenMetrics without its `# EOF`: the caller ends the body). */
  render(format: ExpositionFormat): Promise<string>;
  observer: IngestObserver;
  http(method: string, route: string, code: number, seconds: number): void;
  pruned(kind: 'events' | 'runs' | 'jobs', n: number): void;
  /** Adds a gauge whose value is read at scrape time. */
  gauge(opts: { name: string; help: string; labelNames?: string[]; collect: (g: Gauge<string>) => void }): void;
  /** Registers metrics created elsewhere (sources' own health). */
  register(metric: Counter<string> | Gauge<string> | Histogram<string>): void;
}

export function createSelfMetrics(deps: {
  version: string;
  pending: () => number;
  jobCounts: () => { exposed: number; idle: number };
  defaultMetrics?: boolean;
  /** The SQLite store's directory: its file system's free and total bytes are exposed (a full disk fails every commit). */
  storeDir?: string;
}): SelfMetrics {
  const text = new Registry();
  const registers = [text];

  const events = new Counter({ name: S.events.name, help: S.events.help, labelNames: S.events.labels, registers });
  const rejected = new Counter({ name: S.rejected.name, help: S.rejected.help, labelNames: S.rejected.labels, registers });
  const commitDuration = new Histogram({
    name: S.commitDuration.name,
    help: S.commitDuration.help,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const commitEvents = new Histogram({
    name: S.commitEvents.name,
    help: S.commitEvents.help,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
    registers,
  });
  const storeErrors = new Counter({ name: S.storeErrors.name, help: S.storeErrors.help, registers });
  const fenced = new Counter({ name: S.fencedEvents.name, help: S.fencedEvents.help, labelNames: S.fencedEvents.labels, registers });
  new Gauge({
    name: S.pending.name,
    help: S.pending.help,
    registers,
    collect() {
      this.set(deps.pending());
    },
  });
  new Gauge({
    name: S.jobs.name,
    help: S.jobs.help,
    labelNames: S.jobs.labels,
    registers,
    collect() {
      const c = deps.jobCounts();
      this.set({ status: 'exposed' }, c.exposed);
      this.set({ status: 'idle' }, c.idle);
    },
  });
  if (deps.storeDir !== undefined) {
    const dir = deps.storeDir;
    // One statfs per scrape (a few µs); a failure (the directory gone) leaves the last values.
    const fs = (): StatsFs | undefined => {
      try {
        return statfsSync(dir);
      } catch {
        return undefined;
      }
    };
    const sizes: [typeof S.storeFsAvail, (s: StatsFs) => number][] = [
      [S.storeFsAvail, (s) => s.bavail * s.bsize],
      [S.storeFsSize, (s) => s.blocks * s.bsize],
    ];
    for (const [spec, bytes] of sizes)
      new Gauge({
        name: spec.name,
        help: spec.help,
        registers,
        collect() {
          const s = fs();
          if (s) this.set(bytes(s));
        },
      });
  }
  const httpRequests = new Counter({ name: S.httpRequests.name, help: S.httpRequests.help, labelNames: S.httpRequests.labels, registers });
  const httpDuration = new Histogram({
    name: S.httpDuration.name,
    help: S.httpDuration.help,
    labelNames: S.httpDuration.labels,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const requestChildren = new Map<string, Map<string, Map<number, { inc(): void }>>>();
  const durationChildren = new Map<string, { observe(v: number): void }>();
  const pruned = new Counter({ name: S.retentionPruned.name, help: S.retentionPruned.help, labelNames: S.retentionPruned.labels, registers });
  const buildInfo = new Gauge({ name: S.buildInfo.name, help: S.buildInfo.help, labelNames: S.buildInfo.labels, registers });
  buildInfo.set({ version: deps.version }, 1);
  if (deps.defaultMetrics !== false) {
    collectDefaultMetrics({ register: text });
    // prom-client's gauges of active handles, requests and resources end in `_total`, which
    // `promtool check metrics` reports ("non-counter metrics should not have _total suffix").
    // Their per-type siblings (nodejs_active_handles{type}, …) carry the same counts.
    for (const name of NON_COUNTER_TOTALS) text.removeSingleMetric(name);
  }

  return {
    text,
    async render(format) {
      const body = await text.metrics();
      if (format === 'text') return body;
      // prom-client's OpenMetrics differs from its text in two ways only (checked line by
      // line on the same registry): a counter family is named without `_total` in its HELP
      // and TYPE lines, and there are no blank lines between families.
      const counters = new Set<string>();
      for (const m of text.getMetricsAsArray()) if ((m as unknown as { type: string }).type === 'counter') counters.add((m as unknown as { name: string }).name);
      return body.replace(/\n\n+/g, '\n').replace(/^# (HELP|TYPE) (\S+)/gm, (line, kw: string, name: string) => (counters.has(name) && name.endsWith('_total') ? `# ${kw} ${name.slice(0, -6)}` : line));
    },
    observer: {
      committed(n, seconds) {
        commitDuration.observe(seconds);
        commitEvents.observe(n);
      },
      event(source, result, n) {
        events.inc({ source, result }, n);
      },
      rejected(source, reason, n) {
        rejected.inc({ source, reason }, n);
      },
      storeError() {
        storeErrors.inc();
      },
      fenced(lease, n) {
        fenced.inc({ lease }, n);
      },
    },
    http(method, route, code, seconds) {
      // Children by label values, found through nested maps: prom-client hashes the label
      // object on every call (~640 B and a key sort per request in an allocation profile).
      let byMethod = requestChildren.get(route);
      if (!byMethod) requestChildren.set(route, (byMethod = new Map()));
      let byCode = byMethod.get(method);
      if (!byCode) byMethod.set(method, (byCode = new Map()));
      let counter = byCode.get(code);
      if (!counter) byCode.set(code, (counter = httpRequests.labels({ method, route, code: String(code) })));
      counter.inc();
      let histogram = durationChildren.get(route);
      if (!histogram) durationChildren.set(route, (histogram = httpDuration.labels({ route })));
      histogram.observe(seconds);
    },
    pruned(kind, n) {
      if (n > 0) pruned.inc({ kind }, n);
    },
    gauge(opts) {
      const g = new Gauge({
        name: opts.name,
        help: opts.help,
        labelNames: opts.labelNames ?? [],
        registers: [text],
        collect() {
          opts.collect(this);
        },
      });
      void g;
    },
    register(metric) {
      text.registerMetric(metric);
    },
  };
}
