/**
 * `jobpulse serve` that cannot start says why in one line and exits, as the built bin does
 * it: a store that is not a database or cannot be written, a port another process holds.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { tempDir } from '../support/temp-dir.js';

const built = existsSync('dist/main.js');
if (!built && process.env.CI === 'true') throw new Error('dist/main.js missing: run `npm run build` (npm test does it in pretest)');
if (!built) console.warn('skipping start-up failure tests: run `npm run build` first');

function serve(env: Record<string, string>, args: string[] = ['serve']): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/jobpulse.js', ...args], { env: { ...process.env, JOBPULSE_HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // An agent that started instead of failing would never exit: end it and let the test fail.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!built)('a command line with a typo', () => {
  it.each([
    [['serve', '--conifg', 'jobpulse.yaml'], /jobpulse serve: unknown option --conifg \(options: --config\)/],
    [['serve', 'jobpulse.yaml'], /jobpulse serve: unexpected argument "jobpulse.yaml"/],
    [['push', '--job', 'a', '--event', 'progress', '--progres', '40'], /jobpulse push: unknown option --progres/],
    [['run', '--job', 'a', '--heartbaet', '1s', '--', 'true'], /jobpulse run: unknown option --heartbaet/],
    [['run', '--job', 'a', 'true'], /the command goes after --/],
    [['jobs', '--stat', 'failed'], /jobpulse jobs: unknown option --stat/],
  ])('%j exits 2 naming it, instead of running with the option ignored', async (args, why) => {
    // JOBPULSE_PORT 1: an agent that started after all would fail to listen, not linger.
    const r = await serve({ JOBPULSE_PORT: '1', JOBPULSE_URL: 'http://127.0.0.1:1' }, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
  });

  it('prints the usage for `serve --help` instead of starting the agent', async () => {
    const r = await serve({ JOBPULSE_PORT: '1' }, ['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: jobpulse <command>');
  });
});

describe.skipIf(!built)('jobpulse serve that cannot start', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  const dir = (): string => {
    const d = tempDir();
    dirs.push(d);
    return d.path;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) d.cleanup();
  });

  it('a store file that is not a database: one line naming the file, exit 1', async () => {
    const db = join(dir(), 'not-a-db.sqlite');
    writeFileSync(db, 'this is a text file, not SQLite\n'.repeat(200));
    const r = await serve({ JOBPULSE_PORT: String(await freePort()), JOBPULSE_DB: db });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`jobpulse: cannot start: opening the sqlite store at ${db}: file is not a database\n`);
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(line).toMatchObject({ level: 'error', msg: 'cannot start', what: `opening the sqlite store at ${db}`, err: { message: 'file is not a database' } });
  });

  it('a database a newer jobpulse migrated (schema version above the known ones)', async () => {
    const db = join(dir(), 'newer.db');
    const raw = new Database(db);
    raw.pragma('user_version = 999');
    raw.close();
    const r = await serve({ JOBPULSE_PORT: String(await freePort()), JOBPULSE_DB: db });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^jobpulse: cannot start: opening the sqlite store at ${db}: the database is at schema version 999, newer than this jobpulse knows \\(\\d+\\)`));
  });

  it('a store path that is a directory', async () => {
    const db = join(dir(), 'a-directory');
    mkdirSync(db);
    const r = await serve({ JOBPULSE_PORT: String(await freePort()), JOBPULSE_DB: db });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`jobpulse: cannot start: opening the sqlite store at ${db}: unable to open database file\n`);
  });

  it('a port another process listens on: says which, and the store it opened is closed cleanly', async () => {
    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
    try {
      const r = await serve({ JOBPULSE_PORT: String(port), JOBPULSE_DB: join(dir(), 'db.sqlite') });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^jobpulse: cannot start: listening on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE.*\\n$`));
      expect(r.stdout).toContain('"msg":"stopped"');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('a config error names the key and exits 2', async () => {
    const r = await serve({ JOBPULSE_PORT: 'eighty', JOBPULSE_DB: join(dir(), 'db.sqlite') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('http.port');
    expect(r.stdout).toBe('');
  });
});
