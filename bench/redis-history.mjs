// npm run build && node bench/redis-history.mjs — one job's history on the Redis store: the job
// page's window (finishedRuns of one job) for a job with BENCH_RUNS runs (default 5k and 50k, one
// a minute), median of 5 reads, and the one-time pass at start that indexes each job's ended
// runs for data written before that index existed. Runs go in through ingest, as pushes do.
import { Redis } from 'ioredis';
import { cpus } from 'node:os';
import { createIngest } from '../dist/ingest/ingest.js';
import { systemClock } from '../dist/runtime/clock.js';
import { createLogger } from '../dist/runtime/logger.js';
import { JobState } from '../dist/state/job-state.js';
import { createRedisStore } from '../dist/store/redis/redis-store.js';
import { startRedis } from './support.mjs';

const SIZES = (process.env.BENCH_RUNS ?? '5000,50000').split(',').map(Number);
const T0 = Date.parse('2026-12-07T00:00:00Z');
const redis = await startRedis();
const admin = new Redis(redis.url);
const logger = createLogger({ level: 'silent' });
const rows = [];
try {
  for (const n of SIZES) {
    const prefix = `bench-${n}:`;
    const store = await createRedisStore({ url: redis.url, key_prefix: prefix });
    const ingest = createIngest({ store, state: new JobState(await store.loadState()), clock: systemClock, logger, maxBatch: 4096, maxPending: 1e7, maxJobs: 1e6 });
    const t0 = performance.now();
    for (let b = 0; b < n; b += 1000) {
      const drafts = [];
      for (let i = b; i < Math.min(n, b + 1000); i++) {
        const at = T0 - 60_000 * i;
        drafts.push({ job_name: 'busy', run_id: `r-${i}`, event: 'started', timestamp: at - 30_000, source: 'bench' }, { job_name: 'busy', run_id: `r-${i}`, event: 'succeeded', timestamp: at, source: 'bench' });
      }
      await ingest.ingest(drafts, { results: false });
    }
    const seedS = (performance.now() - t0) / 1000;
    const window = { job_name: 'busy', since: T0 - 2 * 3_600_000, until: T0 + 1 };
    const times = [];
    let found = 0;
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      found = (await store.finishedRuns(window)).length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push([`one job's last 2 h (${found} runs) of ${n.toLocaleString('en-US')} runs`, `${times[2].toFixed(1)} ms median of 5 (seeded through ingest in ${seedS.toFixed(1)} s)`]);
    await ingest.drain();
    await store.close();
    // As a version before the index left it: the pass at start indexes the job's ended runs again.
    const keys = await admin.keys(`${prefix}job-ended:*`);
    await admin.del(...keys, `${prefix}index:job-ended`);
    let filled;
    const done = new Promise((r) => (filled = r));
    const again = await createRedisStore({ url: redis.url, key_prefix: prefix, onIndexFilled: (info) => filled(info) });
    const info = await done;
    rows.push([`index pass at start, data written before the index (${info.jobs} job, ${info.runs.toLocaleString('en-US')} ended runs)`, `${info.ms.toFixed(0)} ms, in the background`]);
    await again.close();
  }
} finally {
  admin.disconnect();
  await redis.stop();
}
console.log(`\nMachine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}\n`);
console.log('| Redis store, one job\'s history | result |\n|---|---|');
for (const [name, value] of rows) console.log(`| ${name} | ${value} |`);
