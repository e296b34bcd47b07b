// npm run build && node bench/detectors.mjs — cost of one detector sweep over 50k running runs.
// A real agent (in-process, temp SQLite, manual clock) holds 40k running top-level runs in
// 10k jobs plus 10k running child batches under 100 parents. Measured:
//   1. detect() alone, nothing due (the steady state of every sweep),
//   2. sweep(), nothing due (detect + schedule checks + batch counts),
//   3. sweep() when every run is past a deadline at once: 50k verdicts committed durably
//      (40k stuck flags, 10k crashed batches) — the worst case.
// Results print as a markdown table; copy them into the README's Detectors section.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../dist/agent.js';
import { parseConfig, expectationsFor } from '../dist/config/schema.js';
import { ManualClock } from '../dist/runtime/clock.js';
import { createLogger } from '../dist/runtime/logger.js';
import { detect } from '../dist/sources/clock/detect.js';

const TOP = Number(process.env.BENCH_TOP ?? 40_000);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 10_000);
const PARENTS = 100;
const MIN = 60_000;

const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-det-'));
const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
const overrides = {};
for (let j = 0; j < 100; j++) overrides[`job-${j}`] = { schedule: '*/15 * * * *', timezone: 'Europe/Berlin', max_duration: '2h' };
const config = parseConfig({
  http: { host: '127.0.0.1', port: 0 },
  store: { sqlite: { path: join(dir, 'bench.db') } },
  detectors: { interval: '1h' },
  jobs: { defaults: { stuck_after: '10m', crash_after: '10m' }, overrides },
});
const agent = await createAgent({ config, clock, logger: createLogger({ level: 'error' }), defaultMetrics: false });

const push = async (drafts) => {
  for (let i = 0; i < drafts.length; i += 5000) await agent.ingest.ingest(drafts.slice(i, i + 5000));
};
await push(Array.from({ length: PARENTS }, (_, p) => ({ job_name: `parent-${p}`, run_id: `parent-${p}`, event: 'started', source: 'push' })));
await push(Array.from({ length: TOP - PARENTS }, (_, i) => ({ job_name: `job-${i % 10_000}`, run_id: `run-${i}`, event: 'started', source: 'push' })));
await push(
  Array.from({ length: CHILDREN }, (_, i) => ({ job_name: `batch-${i % PARENTS}`, run_id: `child-${i}`, parent_run_id: `parent-${i % PARENTS}`, event: 'started', source: 'push' })),
);
let running = 0;
for (const r of agent.state.allRuns()) if (r.state === 'running') running += 1;

const time = async (fn, n = 5) => {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};

clock.advance(5 * MIN);
const view = { runs: agent.state.allRuns(), batches: (id) => agent.batches.counts(id), baseline: (n) => agent.baselines.get(n) };
const expect = (n) => expectationsFor(config, n);
const detectMs = await time(() => detect({ ...view, runs: agent.state.allRuns() }, clock.now(), expect), 9);
const idleSweepMs = await time(() => agent.detectors.sweep(), 5);

clock.advance(20 * MIN);
const t = performance.now();
const res = await agent.detectors.sweep();
const worstMs = performance.now() - t;

await agent.stop();
// Restart on the same store: loading state, child batch counts and baselines.
const t1 = performance.now();
const again = await createAgent({ config, clock, logger: createLogger({ level: 'error' }), defaultMetrics: false });
const restartMs = performance.now() - t1;
await again.stop();
rmSync(dir, { recursive: true, force: true });

const rows = [
  ['running runs in memory', running.toLocaleString('en')],
  ['detect() alone, nothing due (median of 9)', `${detectMs.toFixed(1)} ms`],
  ['sweep(), nothing due (median of 5)', `${idleSweepMs.toFixed(1)} ms`],
  [`sweep(), every run past its deadline (${res.events.toLocaleString('en')} verdicts committed)`, `${worstMs.toFixed(0)} ms`],
  ['agent restart on that store (state + batch index + baselines)', `${restartMs.toFixed(0)} ms`],
  ['default sweep interval', '30 s'],
];
console.log(`Detector sweep, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);
console.log('| measure | value |\n|---|---|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
