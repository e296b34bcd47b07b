// Shared by the bench scripts: a free loopback port, and waiting for a URL to answer 2xx.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The Node flags bin/jobpulse.js starts with (its shebang line), so benches run the agent as users do. */
export const AGENT_NODE_FLAGS = /^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(new URL('../bin/jobpulse.js', import.meta.url), 'utf8'))[1].trim().split(/\s+/).filter(Boolean);

export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** Polls `url` every 50 ms until it answers 2xx; throws after `tries`. */
export async function waitFor(url, tries = 400) {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`not ready: ${url}`);
}

export const waitReady = (url) => waitFor(`${url}/readyz`);

/** The machine's CPU counters (/proc/stat's first line): total jiffies and those stolen by the hypervisor. */
function cpuJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
}

/**
 * Starts a steal meter: the returned function gives the percentage of the machine's CPU time
 * the hypervisor took since the start. On the VMs these figures come from, steal moved
 * between 0% and 40% within minutes and with it every rate: a figure without it cannot be
 * compared with another.
 */
export function stealMeter() {
  const a = cpuJiffies();
  return () => {
    const b = cpuJiffies();
    const total = b.total - a.total;
    return total > 0 ? (100 * (b.steal - a.steal)) / total : 0;
  };
}

const redisUp = (port) =>
  new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => (s.destroy(), resolve(String(d).startsWith('+PONG'))));
  });

/** A redis-server on a free loopback port, AOF every second (as the README asks), in a temp dir. */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'jobpulse-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir], { stdio: 'ignore' });
  while (!(await redisUp(port))) await new Promise((r) => setTimeout(r, 20));
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
