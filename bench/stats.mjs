// npm run bench:stats — window statistics (/api/v1/stats, the status page's week of a job) on a
// big history: one job with 100k runs in 7 days and 10k jobs with 10 runs each, in a SQLite
// file seeded directly (rows as the store writes them). For each query: wall time and the
// longest the event loop was held (a 1 ms timer's largest gap), for the store's aggregate
// (Store.runStats: SQL on the checkpointer thread) and for the finished runs summarized on the
// event loop (what every store without runStats does, and what SQLite did before); likewise
// the last day's failures the status page loads once (Store.endedRuns against finishedRuns).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeWindow } from '../dist/history/stats.js';
import { openDatabase } from '../dist/store/sqlite/open-database.js';
import { createSqliteStore } from '../dist/store/sqlite/sqlite-store.js';

const HOT_RUNS = Number(process.env.BENCH_HOT_RUNS ?? 100_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-stats-'));
const path = join(dir, 'stats.db');
const now = Date.parse('2026-12-07T00:00:00Z');
const week = 7 * 86_400_000;

const db = openDatabase(path, 'process');
const ins = db.prepare('INSERT INTO runs (run_id, job_name, parent_run_id, state, created_at, ended_at, duration_seconds, data) VALUES (?,?,?,?,?,?,?,?)');
const run = (id, job, state, end, d) => JSON.stringify({ run_id: id, job_name: job, state, source: 'push', created_at: end - d * 1000, started_at: end - d * 1000, ended_at: end, records_processed: 1000, labels: { team: 'data' } });
db.transaction(() => {
  for (let i = 0; i < HOT_RUNS; i++) {
    const end = now - week + Math.floor((i * week) / HOT_RUNS);
    const d = 1 + ((i * 7919) % 600) / 10;
    const state = i % 50 === 0 ? 'failed' : i % 97 === 0 ? 'cancelled' : 'succeeded';
    ins.run(`hot-${i}`, 'hot', null, state, end - d * 1000, end, d, run(`hot-${i}`, 'hot', state, end, d));
  }
  for (let j = 0; j < JOBS; j++)
    for (let i = 0; i < 10; i++) {
      const end = now - i * 3_600_000 - j;
      const d = 5 + (j % 100);
      const state = i % 9 === 0 ? 'failed' : 'succeeded';
      ins.run(`j${j}-${i}`, `job-${j}`, null, state, end - d * 1000, end, d, run(`j${j}-${i}`, `job-${j}`, state, end, d));
    }
})();
db.close();

const store = createSqliteStore({ path, durability: 'process' });
async function measure(f) {
  const walls = [];
  const holds = [];
  for (let k = 0; k < 5; k++) {
    let last = performance.now();
    let hold = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      hold = Math.max(hold, t - last);
      last = t;
    }, 1);
    const t0 = performance.now();
    await f();
    walls.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5));
    clearInterval(timer);
    holds.push(hold);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return `wall ${median(walls).toFixed(0)} ms, event loop held up to ${median(holds).toFixed(0)} ms (medians of 5)`;
}
const q = (job) => ({ ...(job ? { job_name: job } : {}), since: now - week, until: now + 1 });
const rows = [
  ['one job, 100k runs: Store.runStats', await measure(() => store.runStats(q('hot')))],
  ['one job, 100k runs: finishedRuns summarized', await measure(async () => summarizeWindow(await store.finishedRuns(q('hot'))))],
  [`all ${JOBS + 1} jobs, ${HOT_RUNS + JOBS * 10} runs: Store.runStats`, await measure(() => store.runStats(q()))],
  [`all ${JOBS + 1} jobs: finishedRuns summarized`, await measure(async () => summarizeWindow(await store.finishedRuns(q())))],
  [`failures of the last day (the status page's first load), ~${Math.round(JOBS * 10 + HOT_RUNS / 7)} runs: Store.endedRuns`, await measure(() => store.endedRuns({ since: now - 86_400_000, until: now + 1, states: ['failed', 'timed_out', 'crashed'] }))],
  ['failures of the last day: finishedRuns filtered', await measure(async () => (await store.finishedRuns({ since: now - 86_400_000, until: now + 1 })).filter((r) => r.state === 'failed'))],
];
await store.close();
rmSync(dir, { recursive: true, force: true });
console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}\n`);
console.log('| window statistics, 7 days | result |\n|---|---|');
for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
