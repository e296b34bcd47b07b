// npm run bench — durable push throughput and latency vs a bare node:http ceiling,
// /metrics scrape time and size, and RSS, on this machine. Load generator: wrk.
// Results print as a markdown table; copy them into the README's performance section.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS, freePort, stealMeter, waitReady } from './support.mjs';

const DURATION = process.env.BENCH_DURATION ?? '8s';
const WARMUP = process.env.BENCH_WARMUP ?? '2s';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const only = process.env.BENCH_ONLY?.split(',');
const want = (name) => !only || only.includes(name);

async function startAgent(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-'));
  const port = await freePort();
  const child = spawn(process.execPath, [...AGENT_NODE_FLAGS, '--expose-gc', 'bench/serve-with-gc.mjs'], {
    env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_DB: join(dir, 'bench.db'), JOBPULSE_LOG_LEVEL: 'warn', JOBPULSE_LIMITS__MAX_JOBS: '1000000', ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url);
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startBare(bodyFile) {
  const child = spawn(process.execPath, ['bench/bare-server.mjs', ...(bodyFile ? [bodyFile] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

// CPU seconds (user + system) the server process used: divided by requests it is a cost per
// request that the load generator and other processes on the machine distort far less than rates.
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};

function wrk(url, { jobs, batch }, pid, duration = DURATION) {
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const steal = stealMeter();
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${duration}`, '--latency', '-s', 'bench/wrk-push.lua', `${url}/push`], {
    env: { ...process.env, JOBS: String(jobs), BATCH: String(batch) },
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]] : NaN;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? '';
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const cpuUsPerEvent = pid && requests ? ((cpuSeconds(pid) - cpu0) * 1e6) / (requests * batch) : NaN;
  return { rps, p99ms, non2xx, errors, cpuUsPerEvent, steal: steal() };
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** RSS after a full GC in the agent (bench/serve-with-gc.mjs collects on SIGUSR2). */
async function rssAfterGc(pid) {
  process.kill(pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  return rssMb(pid);
}

/**
 * RSS of an agent as Prometheus keeps it: scraped (gzip) every 15 s for `ms` after the load,
 * sampled every second. V8 gives memory back only when allocation is slow (its memory
 * reducer, a few rounds after ~8 s, irregularly), which an agent scraped every 15 s still
 * allows; a bench that reads RSS right after the load reads garbage and young-generation
 * space the next minutes return. Returns the median and maximum of the second minute's samples.
 */
async function rssScraped(pid, url, ms = 120_000) {
  const t0 = Date.now();
  const late = [];
  let nextScrape = t0 + 15_000;
  while (Date.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, 1000));
    if (Date.now() >= nextScrape) {
      curl(url, '/dev/null', true);
      nextScrape += 15_000;
    }
    if (Date.now() - t0 >= ms / 2) late.push(rssMb(pid));
  }
  late.sort((a, b) => a - b);
  return { median: late[Math.floor(late.length / 2)], max: late[late.length - 1] };
}

async function seed(url, jobs, offset = 0) {
  for (let i = 0; i < jobs; i += 1000) {
    const body = [];
    for (let j = i; j < Math.min(jobs, i + 1000); j++) {
      const n = offset + j;
      body.push({ job_name: `seed-${n}`, run_id: `seed-run-${n}`, event: 'started' });
      body.push({ job_name: `seed-${n}`, run_id: `seed-run-${n}`, event: n % 3 === 0 ? 'progress' : 'succeeded', progress: 50, records_processed: n });
    }
    const res = await fetch(`${url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
  }
}

// Timed with curl, the way a scraper reads the body: Node's fetch().text() alone takes
// ~0.2–0.4 s for 20 MiB and ~1.5 s for 100 MiB from a server that only sends prebuilt bytes,
// which would measure the bench's client rather than the agent.
/** One GET with curl; `gzip` asks for it as Prometheus does, and keeps the bytes compressed. */
function curl(url, out = '/dev/null', gzip = false) {
  const args = ['-sS', '-o', out, '-w', '%{http_code} %{time_total} %{size_download}', ...(gzip ? ['-H', 'Accept-Encoding: gzip'] : []), url];
  const w = execFileSync('curl', args, { encoding: 'utf8' }).split(' ');
  if (w[0] !== '200') throw new Error(`GET ${url}: ${w[0]}`);
  return { ms: Number(w[1]) * 1000, bytes: Number(w[2]) };
}

function scrape(url, gzip, times = 10) {
  const ms = [];
  let bytes = 0;
  for (let i = 0; i < times; i++) {
    const r = curl(url, '/dev/null', gzip);
    ms.push(r.ms);
    bytes = r.bytes;
  }
  const first = ms[0];
  ms.sort((a, b) => a - b);
  return { first, median: ms[Math.floor(ms.length / 2)], bytes };
}

/** The same body (gzip: the same compressed bytes) from a bare node:http server: what sending these bytes costs at all. */
async function floor(url, dir, gzip) {
  const file = join(dir, gzip ? 'metrics.txt.gz' : 'metrics.txt');
  curl(url, file, gzip);
  const bare = await startBare(file);
  try {
    return scrape(`${bare.url}/metrics`, gzip);
  } finally {
    bare.stop();
  }
}

const rows = [];
const row = (name, value, note = '') => {
  rows.push({ name, value, note });
  process.stderr.write(`${name}: ${value} ${note}\n`);
};

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

/** Middle value (the mean of the two middle ones for an even count). */
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
/** A list of steal percentages as `a–b%` (or `a%`). */
const range = (xs) => {
  const lo = Math.min(...xs).toFixed(0);
  const hi = Math.max(...xs).toFixed(0);
  return lo === hi ? `${lo}%` : `${lo}–${hi}%`;
};
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PAIR_DURATION = process.env.BENCH_PAIR_DURATION ?? '5s';

if (want('push')) {
  // The ceiling is measured next to every single-event run, not once at the start: this VM's
  // speed moves by ±25% within minutes, and one ceiling at the start made the ratio of a run
  // minutes later say as much about the minute as about the agent. Each round runs the bare
  // server and the agent back to back (alternating which goes first), the ratio is taken per
  // round, and the row gives the median round. The bare server stays up, idle between rounds.
  const bare = await startBare();
  const ceilings = [];
  const paired = (agent, jobs) => {
    const rounds = [];
    for (let i = 0; i < ROUNDS; i++) {
      const runBare = () => wrk(bare.url, { jobs: 1000, batch: 1 }, bare.pid, PAIR_DURATION);
      const runAgent = () => wrk(agent.url, { jobs, batch: 1 }, agent.pid, PAIR_DURATION);
      let c;
      let a;
      if (i % 2 === 0) {
        c = runBare();
        a = runAgent();
      } else {
        a = runAgent();
        c = runBare();
      }
      ceilings.push(c);
      rounds.push({ ...a, ceiling: c.rps, ratio: a.rps / c.rps });
    }
    const pick = (k) => median(rounds.map((r) => r[k]));
    return { rps: pick('rps'), ratio: pick('ratio'), p99ms: pick('p99ms'), cpuUsPerEvent: pick('cpuUsPerEvent'), rounds, steal: [...rounds.map((r) => r.steal), ...ceilings.slice(-ROUNDS).map((r) => r.steal)] };
  };
  for (const durability of ['process', 'power']) {
    for (const jobs of [1000, 10000]) {
      const agent = await startAgent({ JOBPULSE_DURABILITY: durability });
      // A short run first: JIT warm-up and the first event of every job (a new run each) are
      // start-up costs, not the steady state the rows report.
      wrk(agent.url, { jobs, batch: 1 }, undefined, WARMUP);
      const single = paired(agent, jobs);
      const non2xx = single.rounds.reduce((n, r) => n + r.non2xx, 0);
      row(
        `single-event push, ${jobs / 1000}k jobs, durability=${durability}`,
        `${single.rps.toFixed(0)} pushes/s (${(100 * single.ratio).toFixed(0)}% of ceiling)`,
        `median of ${ROUNDS} rounds, each against the ceiling measured next to it (${single.rounds.map((r) => `${(100 * r.ratio).toFixed(0)}%`).join(', ')}); p99 ${single.p99ms.toFixed(2)} ms, ${single.cpuUsPerEvent.toFixed(0)} µs CPU/push, CPU steal ${range(single.steal)}${non2xx ? `, non-2xx ${non2xx}` : ''} ${single.rounds.map((r) => r.errors).join(' ').trim()}`,
      );
      const batched = wrk(agent.url, { jobs, batch: 100 }, agent.pid);
      row(
        `batched push (100 events), ${jobs / 1000}k jobs, durability=${durability}`,
        `${(batched.rps * 100).toFixed(0)} events/s`,
        `${batched.rps.toFixed(0)} req/s, p99 ${batched.p99ms.toFixed(2)} ms, ${batched.cpuUsPerEvent.toFixed(1)} µs CPU/event, CPU steal ${range([batched.steal])}${batched.non2xx ? `, non-2xx ${batched.non2xx}` : ''}`,
      );
      await agent.stop();
    }
  }
  bare.stop();
  const c = (k) => median(ceilings.map((r) => r[k]));
  const rps = ceilings.map((r) => r.rps);
  rows.unshift({
    name: 'bare node:http ceiling',
    value: `${c('rps').toFixed(0)} req/s`,
    note: `median of ${ceilings.length} runs next to the single-event rounds (${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)}); p99 ${c('p99ms').toFixed(2)} ms, ${c('cpuUsPerEvent').toFixed(0)} µs CPU/request, CPU steal ${range(ceilings.map((r) => r.steal))}`,
  });
}

if (want('metrics')) {
  const agent = await startAgent();
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-body-'));
  const baseRss = await rssAfterGc(agent.pid);
  let seeded = 0;
  for (const jobs of [1000, 10000, 50000]) {
    await seed(agent.url, jobs - seeded, seeded);
    seeded = jobs;
    // Prometheus scrapes with Accept-Encoding: gzip; curl without it gets the text.
    const z = scrape(`${agent.url}/metrics`, true);
    // RSS as a Prometheus-scraped agent holds it: read before the text scrapes, whose
    // inflated 20 MB bodies are transient garbage.
    const memory = jobs === 10000 ? { afterScrape: rssMb(agent.pid), afterGc: await rssAfterGc(agent.pid), scraped: await rssScraped(agent.pid, `${agent.url}/metrics`) } : undefined;
    const t = scrape(`${agent.url}/metrics`, false);
    const fz = await floor(`${agent.url}/metrics`, dir, true);
    const ft = await floor(`${agent.url}/metrics`, dir, false);
    row(
      `/metrics at ${jobs / 1000}k jobs`,
      `${z.median.toFixed(1)} ms median (gzip, as Prometheus asks)`,
      `first ${z.first.toFixed(1)} ms (renders every job), ${(z.bytes / 2 ** 20).toFixed(1)} MiB; text ${t.median.toFixed(1)} ms, ${(t.bytes / 2 ** 20).toFixed(1)} MiB; same bytes from bare node:http ${fz.median.toFixed(1)} / ${ft.median.toFixed(1)} ms`,
    );
    if (memory) {
      row(
        'RSS at 10k jobs',
        `${memory.scraped.median.toFixed(0)} MB scraped every 15 s (median of the second minute after the load; max ${memory.scraped.max.toFixed(0)})`,
        `${memory.afterGc.toFixed(0)} MB after 10 gzip scrapes and a forced GC; ${memory.afterScrape.toFixed(0)} MB right after the scrapes; ${baseRss.toFixed(0)} MB empty`,
      );
    }
  }
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
}

if (want('pushgateway')) {
  const { benchPushgateway } = await import('./pushgateway.mjs');
  for (const [name, value, note] of await benchPushgateway()) row(name, value, note);
}

console.log(`\nMachine: ${machine}; wrk -t2 -c${CONNECTIONS} -d${DURATION}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
console.log('| measurement | result | notes |\n|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.value} | ${r.note} |`);
