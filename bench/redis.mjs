// node bench/redis.mjs (after npm run build) — acknowledged pushes/s and latency through
// 1, 2 and 3 agent replicas sharing one redis-server (AOF appendfsync everysec), on this
// machine. Each push is one run: [started, succeeded] for one of BENCH_JOBS jobs, sent
// round-robin over the replicas by BENCH_CONNECTIONS concurrent clients (node fetch).
// Prints a markdown table; copy it into the README's Scale-out section.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS, freePort, startRedis } from './support.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 48);
const JOBS = Number(process.env.BENCH_JOBS ?? 200);
const REPLICAS = (process.env.BENCH_REPLICAS ?? '1,2,3').split(',').map(Number);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function startAgent(env) {
  const port = await freePort();
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, 'bin/jobpulse.js', 'serve'], {
    env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {}
    if (i > 300) throw new Error(`agent not ready: ${url}`);
    await sleep(50);
  }
  return { url, stop: async () => (child.kill('SIGTERM'), await new Promise((r) => child.once('exit', r))) };
}

async function run(n, redisUrl) {
  const prefix = `bench-${n}-${Date.now()}:`;
  const dbDir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-db-'));
  const env =
    process.env.BENCH_STORE === 'sqlite'
      ? { JOBPULSE_DB: join(dbDir, 'bench.db') }
      : { JOBPULSE_STORE__KIND: 'redis', JOBPULSE_STORE__REDIS__URL: redisUrl, JOBPULSE_STORE__REDIS__KEY_PREFIX: prefix, JOBPULSE_DB: join(dbDir, 'unused.db') };
  const agents = [];
  for (let i = 0; i < n; i++) agents.push(await startAgent(env));
  const lat = [];
  let ok = 0;
  let failed = 0;
  let seq = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, w) => {
      while (performance.now() < end) {
        const i = seq++;
        const a = agents[i % n];
        const job = `job-${i % JOBS}`;
        const body = JSON.stringify([
          { job_name: job, run_id: `r-${w}-${i}`, event: 'started' },
          { job_name: job, run_id: `r-${w}-${i}`, event: 'succeeded', records_processed: 1 },
        ]);
        const t = performance.now();
        const res = await fetch(`${a.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        if (res.status === 200) (ok++, lat.push(performance.now() - t));
        else failed++;
      }
    }),
  );
  // Convergence: after the last ack, how long until every replica shows the same jobs.
  const t0 = performance.now();
  for (;;) {
    const views = await Promise.all(agents.map(async (a) => JSON.stringify(((await (await fetch(`${a.url}/api/v1/jobs`)).json()).jobs ?? []).map((j) => [j.job_name, j.runs_total]))));
    if (views.every((v) => v === views[0])) break;
    if (performance.now() - t0 > 30_000) throw new Error('no convergence');
  }
  const converge = performance.now() - t0;
  for (const a of agents) await a.stop();
  rmSync(dbDir, { recursive: true, force: true });
  lat.sort((x, y) => x - y);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { n, rate: ok / SECONDS, p50: q(0.5), p99: q(0.99), failed, converge };
}

const redis = await startRedis();
const rows = [];
try {
  for (const n of REPLICAS) rows.push(await run(n, redis.url));
} finally {
  await redis.stop();
}
console.log(`\n${cpus().length} CPUs (${cpus()[0]?.model}), ${SECONDS}s per row, ${CONNECTIONS} clients, ${JOBS} jobs, 2 events per push, node ${process.version}\n`);
console.log('| replicas | acknowledged pushes/s | p50 ms | p99 ms | non-2xx | replicas equal after last ack |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.n} | ${Math.round(r.rate)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failed} | ${r.converge.toFixed(0)} ms |`);
