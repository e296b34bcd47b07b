// node bench/redis.mjs (after npm run build) — acknowledged pushes/s and latency through
// 1, 2 and 3 agent replicas sharing one redis-server (AOF appendfsync everysec), on this
// machine. Each push is one run: [started, succeeded] for one of BENCH_JOBS jobs, sent by wrk
// (one process per replica, BENCH_CONNECTIONS connections split between them).
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
  // The load comes from wrk, one process per replica with the connections split between them:
  // node fetch in this process as the client used a whole core at ~700 pushes/s and was the
  // bottleneck (the agent at half a core).
  const per = Math.max(1, Math.floor(CONNECTIONS / n));
  const results = await Promise.all(
    agents.map(
      (a, k) =>
        new Promise((resolve, reject) => {
          const child = spawn('wrk', ['-t1', `-c${per}`, `-d${SECONDS}s`, '--latency', '-s', 'bench/wrk-redis-push.lua', `${a.url}/push`], {
            env: { ...process.env, JOBS: String(JOBS), TAG: `${n}-${k}` },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          child.once('error', reject);
          child.once('exit', () => resolve(out));
        }),
    ),
  );
  const ms = (m) => (m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN);
  let rate = 0;
  let failed = 0;
  const p50s = [];
  const p99s = [];
  for (const out of results) {
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    failed += non2xx;
    rate += (requests - non2xx) / SECONDS;
    p50s.push(ms(/50%\s+([\d.]+)(us|ms|s)/.exec(out)));
    p99s.push(ms(/99%\s+([\d.]+)(us|ms|s)/.exec(out)));
  }
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
  // Per replica's wrk: the p50s averaged, the worst p99.
  return { n, rate, p50: p50s.reduce((x, y) => x + y, 0) / p50s.length, p99: Math.max(...p99s), failed, converge };
}

const redis = await startRedis();
const rows = [];
try {
  for (const n of REPLICAS) rows.push(await run(n, redis.url));
} finally {
  await redis.stop();
}
console.log(`\n${cpus().length} CPUs (${cpus()[0]?.model}), ${SECONDS}s per row, ${CONNECTIONS} wrk connections, ${JOBS} jobs, 2 events per push, node ${process.version}\n`);
console.log('| replicas | acknowledged pushes/s | p50 ms | p99 ms | non-2xx | replicas equal after last ack |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.n} | ${Math.round(r.rate)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failed} | ${r.converge.toFixed(0)} ms |`);
