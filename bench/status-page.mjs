// npm run bench:status-page — server-side render time of the status page with many jobs.
// Spawns the built agent (dist/) on a free port with a temp SQLite file, seeds JOBS jobs
// over /push (two runs each: a finished one, every 7th failed, and a running one with
// progress) and as many Pushgateway groups, then times each page over loopback: median and p95 of ROUNDS requests.
// Target: `/` with 10k jobs in < 200 ms. Prints a markdown table for the README.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS, freePort, waitReady } from './support.mjs';

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const BATCH = 2000;
const GROUPS = Number(process.env.BENCH_GROUPS ?? JOBS);

async function push(url, events) {
  const res = await fetch(`${url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  if (res.status !== 200) throw new Error(`push ${res.status}: ${await res.text()}`);
}

async function time(url, path) {
  const ms = [];
  const server = [];
  let bytes = 0;
  for (let i = 0; i < ROUNDS + 3; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`);
    const body = await res.text();
    const dt = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    if (i >= 3) {
      // the first rounds warm the JIT
      ms.push(dt);
      server.push(Number(/render;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? NaN));
    }
    bytes = body.length;
  }
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
  return { path, median: q(ms, 0.5), p95: q(ms, 0.95), serverMedian: q(server, 0.5), serverP95: q(server, 0.95), bytes };
}

const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-page-'));
const port = await freePort();
const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, 'bin/jobpulse.js', 'serve'], {
  env: {
    ...process.env,
    JOBPULSE_PORT: String(port),
    JOBPULSE_HOST: '127.0.0.1',
    JOBPULSE_DB: join(dir, 'bench.db'),
    JOBPULSE_LOG_LEVEL: 'warn',
    JOBPULSE_LIMITS__MAX_JOBS: String(JOBS * 2),
    // The groups stay groups: bridged, each would be one more job on \`/\`.
    JOBPULSE_PUSHGATEWAY__LIFECYCLE_BRIDGE: 'false',
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const url = `http://127.0.0.1:${port}`;
try {
  await waitReady(url);
  const t0 = performance.now();
  let events = [];
  let runs = 0;
  const flush = async () => {
    if (events.length) await push(url, events);
    events = [];
  };
  for (let i = 0; i < JOBS; i++) {
    const job_name = `job-${String(i).padStart(5, '0')}`;
    events.push(
      { job_name, run_id: `${job_name}-a`, event: 'started' },
      { job_name, run_id: `${job_name}-a`, event: i % 7 === 0 ? 'failed' : 'succeeded', error_message: i % 7 === 0 ? 'exit 1' : undefined },
    );
    runs += 1;
    if (i % 3 !== 0) {
      events.push({ job_name, run_id: `${job_name}-b`, event: 'progress', progress: i % 100 });
      runs += 1;
    }
    if (events.length >= BATCH) await flush();
  }
  await flush();
  // Pushgateway groups for /groups: as many as jobs, one pusher per instance (32 at a time).
  let next = 0;
  const putGroups = async () => {
    while (next < GROUPS) {
      const g = next++;
      const res = await fetch(`${url}/metrics/job/bench/instance/i${g}`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: `# TYPE bench_records gauge\nbench_records ${g}\n# TYPE bench_last_success_time_seconds gauge\nbench_last_success_time_seconds ${1700000000 + g}\n` });
      if (res.status !== 200) throw new Error(`PUT group ${g}: ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, putGroups));
  const seedSeconds = (performance.now() - t0) / 1000;

  const paths = [
    '/',
    '/?sort=state',
    '/?sort=failures_24h&dir=desc',
    '/?state=failed&name=job-0',
    '/?page=50',
    '/?per_page=1000',
    '/jobs/job-00001',
    '/runs/job-00001-b',
    '/groups',
    '/groups?page=100',
    '/groups?labels=i99',
  ];
  const rows = [];
  for (const p of paths) rows.push(await time(url, p));

  console.log(`\nStatus page, ${JOBS} jobs (${runs} runs) and ${GROUPS} Pushgateway groups, seeded in ${seedSeconds.toFixed(1)} s; ${ROUNDS} requests each over loopback, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);
  console.log('| page | server render median ms | server render p95 ms | round trip median ms | round trip p95 ms | HTML KiB |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const f = (x) => x.toFixed(1);
  for (const r of rows) console.log(`| \`${r.path}\` | ${f(r.serverMedian)} | ${f(r.serverP95)} | ${f(r.median)} | ${f(r.p95)} | ${(r.bytes / 1024).toFixed(0)} |`);
  const root = rows[0];
  console.log(`\n/ with ${JOBS} jobs: server-side render median ${f(root.serverMedian)} ms, p95 ${f(root.serverP95)} ms (target < 200 ms): ${root.serverP95 < 200 ? 'OK' : 'OVER TARGET'}`);
  console.log(`machine load average while measuring: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
