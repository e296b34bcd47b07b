// Pushgateway-API push throughput, jobpulse (every consistency check on, durable before the
// 2xx, lifecycle bridge on) vs the real prometheus-pushgateway with
// --push.disable-consistency-check (in memory, persistence off), both holding GROUPS groups.
// A bare node:http server answering the same requests is measured in the same run as the ceiling
// for any Node server on this machine; the three are measured in alternating rounds (below). Each row also gives the server process's CPU time per
// request (from /proc, user + system), which moves much less with the machine's load than
// requests/s, and the 1-minute load average when the row started.
// Run alone: `npm run build && node bench/pushgateway.mjs`, or `BENCH_ONLY=pushgateway npm run bench`.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS, freePort, stealMeter, waitFor } from './support.mjs';

const GROUPS = Number(process.env.BENCH_PG_GROUPS ?? 10000);
const DURATION = process.env.BENCH_DURATION ?? '8s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);

async function startJobpulse() {
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-pg-'));
  const port = await freePort();
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, 'bin/jobpulse.js', 'serve'], {
    env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_DB: join(dir, 'bench.db'), JOBPULSE_LOG_LEVEL: 'warn', JOBPULSE_LIMITS__MAX_JOBS: '1000000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/readyz`);
  return { url, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }); } };
}

async function startBare() {
  const child = spawn(process.execPath, ['bench/bare-server.mjs'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, seed: false, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
}

/**
 * Waits until the server is idle after seeding (under 10% of a core over 0.5 s, at most 30 s):
 * jobpulse writes the seeded groups' bridged runs and jobs behind the acknowledgements, and that
 * work must not be counted against the PUTs measured next. Returns the seconds it took.
 */
async function settle(pid) {
  const t0 = performance.now();
  for (let i = 0; i < 60; i++) {
    const c0 = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, 500));
    if (cpuSeconds(pid) - c0 < 0.05) break;
  }
  return (performance.now() - t0) / 1000;
}

/** CPU seconds (user + system) the process used so far, from /proc/<pid>/stat. */
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

async function startPushgateway(args) {
  const port = await freePort();
  const child = spawn('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/-/ready`);
  return { url, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
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
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  return { rps, p99ms, non2xx, requests };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

/**
 * All three servers are started and seeded first, then measured in ROUNDS rounds, each round
 * one wrk run per server (the order rotating from round to round), each server left to go idle
 * before the next one's run: this VM's speed moves by ±25% within minutes, and three runs one
 * after the other compared the minutes as much as the servers. The ratio jobpulse / Pushgateway
 * is taken per round; rows give medians.
 */
export async function benchPushgateway() {
  const rows = [];
  const targets = [
    ['jobpulse (checks on, durable, bridge on)', startJobpulse],
    ['prometheus-pushgateway --push.disable-consistency-check', () => startPushgateway(['--push.disable-consistency-check'])],
    ['bare node:http answering 200 (ceiling for a Node server)', startBare],
  ];
  const started = [];
  try {
    for (const [name, start] of targets) {
      const t = await start();
      started.push(t);
      const t0 = performance.now();
      if (t.seed !== false) await seed(t.url, GROUPS);
      const seedS = (performance.now() - t0) / 1000;
      const settleS = await settle(t.pid);
      t.row = { name, runs: [], seeding: t.seed !== false ? `; seeding ${GROUPS} groups took ${seedS.toFixed(1)} s, then ${settleS.toFixed(1)} s to go idle` : '' };
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < started.length; k++) {
        const t = started[(k + round) % started.length];
        const load = loadavg()[0];
        const cpu0 = cpuSeconds(t.pid);
        const steal = stealMeter();
        const r = wrk(t.url);
        r.steal = steal();
        r.cpuUs = ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.requests;
        r.load = load;
        t.row.runs.push(r);
        await settle(t.pid);
      }
    }
  } finally {
    for (const t of started) await t.stop();
  }
  const [ours, pg] = started;
  const ratios = ours.row.runs.map((r, i) => r.rps / pg.row.runs[i].rps);
  for (const t of started) {
    const { name, runs, seeding } = t.row;
    const m = (k) => median(runs.map((r) => r[k]));
    const non2xx = runs.reduce((n, r) => n + r.non2xx, 0);
    const vsPg = t === ours ? `; **${median(ratios).toFixed(2)}×** the Pushgateway (per round: ${ratios.map((x) => x.toFixed(2)).join(', ')})` : '';
    rows.push([
      `Pushgateway-API PUT at ${GROUPS / 1000}k groups: ${name}`,
      `${m('rps').toFixed(0)} pushes/s`,
      `median of ${runs.length} runs (${runs.map((r) => r.rps.toFixed(0)).join(', ')})${vsPg}; p99 ${m('p99ms').toFixed(2)} ms${non2xx ? `, non-2xx ${non2xx}` : ''}; server CPU ${m('cpuUs').toFixed(0)} µs/request; load avg ${Math.min(...runs.map((r) => r.load)).toFixed(1)}–${Math.max(...runs.map((r) => r.load)).toFixed(1)}, CPU steal ${runs.map((r) => `${r.steal.toFixed(0)}%`).join('/')}${seeding}`,
    ]);
    process.stderr.write(`${rows.at(-1).join(' | ')}\n`);
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await benchPushgateway();
  console.log(`\nwrk -t2 -c${CONNECTIONS} -d${DURATION}\n\n| measurement | result | notes |\n|---|---|---|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
