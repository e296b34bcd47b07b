/** The detectors' own health on the agent's registries: sweep duration and verdicts. */
import { Counter, Histogram } from 'prom-client';
import type { SweepResult } from '../sources/clock/clock-source.js';
import { SELF_METRICS as S } from './names.js';
import type { SelfMetrics } from './self-metrics.js';

export function createDetectorMetrics(self: SelfMetrics): (r: SweepResult) => void {
  const duration = new Histogram({
    name: S.detectorSweepDuration.name,
    help: S.detectorSweepDuration.help,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [],
  });
  const verdicts = new Counter({ name: S.detectorVerdicts.name, help: S.detectorVerdicts.help, labelNames: S.detectorVerdicts.labels, registers: [] });
  self.register(duration);
  self.register(verdicts);
  verdicts.inc({ result: 'applied' }, 0);
  verdicts.inc({ result: 'not_applied' }, 0);
  return (r) => {
    duration.observe(r.seconds);
    verdicts.inc({ result: 'applied' }, r.applied);
    verdicts.inc({ result: 'not_applied' }, r.events - r.applied);
  };
}
