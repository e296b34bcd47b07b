// Pushgateway-API push throughput, jobpulse (every consistency check on, durable before the
// 2xx, lifecycle bridge on) vs the real prometheus-pushgateway with
// --push.disable-consistency-check (in memory, persistence off), both holding GROUPS groups.
// Run alone: `npm run build && node bench/pushgateway.mjs`, or as part of `npm run bench`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './support.mjs';

const GROUPS = Number(process.env.BENCH_PG_GROUPS ?? 10000);
const DURATION = process.env.BENCH_DURATION ?? '8s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

async function startJobpulse() {
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-pg-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['bin/jobpulse.js', 'serve'], {
    env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_DB: join(dir, 'bench.db'), JOBPULSE_LOG_LEVEL: 'warn', JOBPULSE_LIMITS__MAX_JOBS: '1000000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/readyz`);
  return { url, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }); } };
}

async function startPushgateway(args) {
  const port = await freePort();
  const child = spawn('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`);
  return { url, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
}

async function seed(url, groups) {
  let next = 0;
  const worker = async () => {
    while (next < groups) {
      const g = next++;
      const res = await fetch(`${url}/metrics/job/bench/instance/i${g}`, {
        method: 'PUT',
        body: `# TYPE bench_records_processed gauge\nbench_records_processed 0\n# TYPE bench_last_success_time_seconds gauge\nbench_last_success_time_seconds ${1700000000 + (g % 1000)}\n`,
      });
      if (!res.ok) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

function wrk(url) {
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}`, '--latency', '-s', 'bench/wrk-pushgateway.lua', url], {
    env: { ...process.env, GROUPS: String(GROUPS) },
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p99ms, non2xx };
}

export async function benchPushgateway() {
  const rows = [];
  const targets = [
    ['jobpulse (checks on, durable, bridge on)', startJobpulse],
    ['prometheus-pushgateway --push.disable-consistency-check', () => startPushgateway(['--push.disable-consistency-check'])],
  ];
  for (const [name, start] of targets) {
    const t = await start();
    const t0 = performance.now();
    await seed(t.url, GROUPS);
    const seedS = (performance.now() - t0) / 1000;
    const r = wrk(t.url);
    await t.stop();
    rows.push([`Pushgateway-API PUT at ${GROUPS / 1000}k groups: ${name}`, `${r.rps.toFixed(0)} pushes/s`, `p99 ${r.p99ms.toFixed(2)} ms${r.non2xx ? `, non-2xx ${r.non2xx}` : ''}; seeding ${GROUPS} groups took ${seedS.toFixed(1)} s`]);
    process.stderr.write(`${rows.at(-1).join(' | ')}\n`);
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchPushgateway();
  console.log(`\nwrk -t2 -c${CONNECTIONS} -d${DURATION}\n\n| measurement | result | notes |\n|---|---|---|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
