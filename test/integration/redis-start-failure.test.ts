/**
 * `serve` on Redis that fails at start-up must exit (code 1, 'cannot start'), so a supervisor
 * restarts it: the Redis clients opened before the failure used to stay open, reconnecting,
 * and held the process alive with nothing listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { hasBinary } from '../support/require-binary.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');

describe.skipIf(!has)('serve when Redis fails at start-up', () => {
  let redis: TestRedis;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.cleanup());
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  /** Starts `serve` on `url`; resolves with its exit code and output, or 'still running' after 15 s. */
  async function serve(url: string): Promise<{ code: number | null | 'still running'; out: string }> {
    const port = await freePort();
    const c = spawn(process.execPath, ['bin/jobpulse.js', 'serve'], {
      env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_STORE__KIND: 'redis', JOBPULSE_STORE__REDIS__URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    let out = '';
    c.stdout?.on('data', (d) => (out += d));
    c.stderr?.on('data', (d) => (out += d));
    const code = await new Promise<number | null | 'still running'>((resolve) => {
      const t = setTimeout(() => resolve('still running'), 15_000);
      c.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
    return { code, out };
  }

  it('exits 1 when nothing answers at the Redis URL', async () => {
    const { code, out } = await serve(`redis://127.0.0.1:${await freePort()}`);
    expect(out).toContain('cannot start');
    expect(code).toBe(1);
  }, 20_000);

  it('exits 1 when Redis answers but refuses a read of the start-up load', async () => {
    const admin = new Redis(redis.url);
    try {
      // A user without the right to read the change stream (loadState reads its position).
      await admin.call('ACL', 'SETUSER', 'default', '-xrevrange');
      const { code, out } = await serve(redis.url);
      expect(out).toContain('cannot start');
      expect(code).toBe(1);
    } finally {
      await admin.call('ACL', 'SETUSER', 'default', '+@all');
      admin.disconnect();
    }
  }, 20_000);

  it('names what Redis refused when it wants a password, not just "Connection is closed."', async () => {
    const admin = new Redis(redis.url);
    try {
      await admin.call('CONFIG', 'SET', 'requirepass', 'sekret');
      const none = await serve(redis.url);
      expect(none.code).toBe(1);
      expect(none.out).toMatch(/cannot start: .*NOAUTH Authentication required/);
      const wrong = await serve(redis.url.replace('redis://', 'redis://:wrong@'));
      expect(wrong.code).toBe(1);
      expect(wrong.out).toMatch(/cannot start: .*WRONGPASS/);
    } finally {
      await admin.call('CONFIG', 'SET', 'requirepass', '');
      admin.disconnect();
    }
  }, 40_000);
});
