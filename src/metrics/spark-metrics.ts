/**
 * The Spark poller's own health on the agent's registries: requests by cluster and
 * result, request latency, cycle duration, and tracked runs (read at scrape time).
 */
import { Counter, Histogram } from 'prom-client';
import type { SparkObserver } from '../sources/spark/spark-source.js';
import { SELF_METRICS as S } from './names.js';
import type { SelfMetrics } from './self-metrics.js';

export function createSparkMetrics(self: SelfMetrics, tracked: () => Record<string, number>): SparkObserver {
  const polls = new Counter({ name: S.sparkPolls.name, help: S.sparkPolls.help, labelNames: S.sparkPolls.labels, registers: [] });
  const histogram = (m: typeof S.sparkPollDuration | typeof S.sparkCycleDuration, buckets: number[]) =>
    new Histogram({ name: m.name, help: m.help, labelNames: m.labels, buckets, registers: [] });
  const latency = histogram(S.sparkPollDuration, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  const cycles = histogram(S.sparkCycleDuration, [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
  self.register(polls);
  self.register(latency);
  self.register(cycles);
  self.gauge({
    name: S.sparkTrackedRuns.name,
    help: S.sparkTrackedRuns.help,
    labelNames: [...S.sparkTrackedRuns.labels],
    collect(g) {
      for (const [cluster, n] of Object.entries(tracked())) g.set({ cluster }, n);
    },
  });
  return {
    request(cluster, result, seconds) {
      polls.inc({ cluster, result });
      latency.observe({ cluster }, seconds);
    },
    cycle(cluster, seconds) {
      cycles.observe({ cluster }, seconds);
    },
  };
}
