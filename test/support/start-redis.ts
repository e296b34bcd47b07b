/**
 * A real redis-server (Debian package redis-server) on a free loopback port, with AOF on
 * as production should run it, in a temp dir. `stop()` and `start()` let tests take
 * Redis away and bring it back on the same port and data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './free-port.js';
import { tempDir } from './temp-dir.js';

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM: AOF flushed) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir. */
  start(): Promise<void>;
  /** Stops it and removes the data dir. */
  cleanup(): Promise<void>;
}

const answersPing = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('error', () => resolve(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = tempDir('jobpulse-redis-');
  let child: ChildProcess | undefined;
  let out = '';

  const start = async (): Promise<void> => {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir.path],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    c.stdout?.on('data', (d) => (out += d));
    c.stderr?.on('data', (d) => (out += d));
    child = c;
    const deadline = Date.now() + 10_000;
    while (!(await answersPing(port))) {
      if (c.exitCode !== null) throw new Error(`redis-server exited:\n${out}`);
      if (Date.now() > deadline) throw new Error(`redis-server not answering after 10 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async cleanup() {
      await stop();
      dir.cleanup();
    },
  };
}
