/**
 * `jobpulse run`, `push` and `jobs` as real child processes (the built bin/jobpulse.js)
 * against a real agent. Build first: `npm run build` (the test script's pretest does).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const BIN = resolve('bin/jobpulse.js');

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { env?: Record<string, string>; input?: string; onSpawn?: (pid: number) => void } = {}): Promise<Result> {
  return new Promise((resolveP, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    // Decoded whole: a character's bytes may come in two chunks.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolveP({ code, signal, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }));
    child.stdin.end(opts.input ?? '');
    opts.onSpawn?.(child.pid as number);
  });
}

async function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The wrapper is tested as users run it: the built bin. `npm test` builds dist/ first;
// under CI a missing build is a failure, elsewhere the suite says how to get one.
const built = existsSync('dist/main.js');
if (!built && process.env.CI === 'true') throw new Error('dist/main.js missing: run `npm run build` (npm test does it in pretest)');
if (!built) console.warn('skipping CLI process tests: run `npm run build` first');

describe.skipIf(!built)('jobpulse run / push / jobs (real processes)', () => {
  let a: TestAgent;
  let spoolDir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  beforeEach(async () => {
    a = await startAgent();
    spoolDir = tempDir();
    env = { JOBPULSE_URL: a.url, JOBPULSE_SPOOL: `${spoolDir.path}/spool.jsonl`, JOBPULSE_RETRIES: '2', JOBPULSE_BACKOFF_MS: '20' };
  });
  afterEach(async () => {
    await a.stop();
    spoolDir.cleanup();
  });

  const runs = async (job: string) => ((await a.get(`/api/v1/jobs/${job}/runs`)).body.runs ?? []) as { run_id: string; state: string; exit_code?: number; progress?: number; error_message?: string; duration_seconds?: number; metadata?: Record<string, unknown> }[];

  it('passes stdio through, reports progress markers and exits with the command\'s code', async () => {
    const r = await cli(['run', '--job', 'wrapped', '--', 'sh', '-c', 'cat; echo JOBPULSE_PROGRESS 42; echo oops >&2; exit 3'], { env, input: 'from stdin\n' });
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('from stdin\nJOBPULSE_PROGRESS 42\n');
    expect(r.stderr).toBe('oops\n');
    const [run] = await runs('wrapped');
    expect(run).toMatchObject({ state: 'failed', exit_code: 3, progress: 42, error_message: 'exited with code 3' });
    const events = (await a.get(`/api/v1/runs/${run?.run_id}`)).body.events.map((e: { event: string }) => e.event);
    expect(events).toEqual(['started', 'progress', 'failed']);
  });

  it('--strip-progress removes marker lines; success ends the run as succeeded', async () => {
    const r = await cli(['run', '--job', 'ok', '--strip-progress', '--', 'sh', '-c', 'echo a; echo JOBPULSE_PROGRESS 50; echo b'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('a\nb\n');
    expect((await runs('ok'))[0]).toMatchObject({ state: 'succeeded', exit_code: 0 });
  });

  it('--strip-progress keeps a UTF-8 character whose bytes arrive in two chunks', async () => {
    // "é" is C3 A9: the command writes the two bytes 200 ms apart, so they reach the wrapper apart.
    const r = await cli(['run', '--job', 'utf8', '--strip-progress', '--', 'sh', '-c', "printf '\\303'; sleep 0.2; printf '\\251\\n'"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('é\n');
  });

  /** The wrapper's stdout as bytes: the `cli` helper decodes it as UTF-8. */
  const stdoutBytes = (args: string[]): Promise<{ code: number | null; stdout: Buffer }> =>
    new Promise((resolveP, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.once('error', reject);
      child.once('close', (code) => resolveP({ code, stdout: Buffer.concat(chunks) }));
    });

  it('--strip-progress passes bytes that are not UTF-8 through unchanged (latin1, gzip, every byte value)', async () => {
    const every = Buffer.from(Array.from({ length: 256 * 400 }, (_, i) => i % 256));
    const parts = [Buffer.from('caf\xe9\n', 'latin1'), every, gzipSync(Buffer.from('a log line\n'.repeat(5000))), Buffer.from('\nJOBPULSE_PROGRESS 30\n'), every, Buffer.from('JOBPULSE_PROGRESS 5x\n\xff', 'latin1')];
    const file = `${spoolDir.path}/bytes.bin`;
    writeFileSync(file, Buffer.concat(parts));
    // Exit 3: a failed run keeps the last progress (a success sets 100).
    const r = await stdoutBytes(['run', '--job', 'bytes', '--strip-progress', '--', 'sh', '-c', 'cat "$0"; exit 3', file]);
    expect(r.code).toBe(3);
    const expected = Buffer.concat([...parts.slice(0, 3), Buffer.from('\n'), ...parts.slice(4)]);
    expect(r.stdout.length).toBe(expected.length);
    expect(r.stdout.equals(expected)).toBe(true);
    expect((await runs('bytes'))[0]).toMatchObject({ state: 'failed', progress: 30 });
  });

  it('--strip-progress passes a prompt without a newline on at once; only a line that could still be a marker waits', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '--job', 'prompt', '--strip-progress', '--', 'sh', '-c', 'printf "Continue? "; read x; echo "got $x"; printf "JOBPULSE_PROG"; sleep 0.2; printf "RESS 60\\ndone\\n"; exit 3'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    // The command answers only once we have seen its prompt: held back, this waits forever.
    await until(async () => (out === 'Continue? ' ? true : undefined), 'the prompt');
    child.stdin.end('y\n');
    expect(await closed).toBe(3);
    expect(out).toBe('Continue? got y\ndone\n');
    expect((await runs('prompt'))[0]).toMatchObject({ state: 'failed', progress: 60 });
  });

  it('sends heartbeats while the command runs', async () => {
    const r = await cli(['run', '--job', 'hb', '--heartbeat', '50ms', '--', 'sh', '-c', 'sleep 0.4'], { env });
    expect(r.code).toBe(0);
    const [run] = await runs('hb');
    const events = (await a.get(`/api/v1/runs/${run?.run_id}`)).body.events.map((e: { event: string }) => e.event);
    expect(events.filter((e: string) => e === 'heartbeat').length).toBeGreaterThan(0);
    expect(events.at(-1)).toBe('succeeded');
  });

  it('forwards SIGTERM to the command and dies of it', async () => {
    let pid = 0;
    const done = cli(['run', '--job', 'sig', '--', 'sh', '-c', 'trap "exit 143" TERM; echo ready; while :; do sleep 0.05; done'], { env, onSpawn: (p) => (pid = p) });
    await until(async () => ((await runs('sig'))[0]?.state === 'running' ? true : undefined), 'the run to start');
    process.kill(pid, 'SIGTERM');
    const r = await done;
    expect(r.code).toBe(143);
    expect((await runs('sig'))[0]).toMatchObject({ state: 'failed', exit_code: 143 });
  });

  it.skipIf(!hasBinary('script', 'bsdutils'))('Ctrl-C on a real terminal reaches the command once, as without the wrapper', async () => {
    // The command notes every SIGINT in a file (synchronously: a pipe write could be lost at exit)
    // and ends cleanly 300 ms after the first; tools such as terraform abort on a second.
    const seen = `${spoolDir.path}/sigint.log`;
    const command = `process.on('SIGINT',()=>{require('fs').appendFileSync(${JSON.stringify(seen)},'INT\\n');setTimeout(()=>process.exit(0),300)});console.log('READY');setInterval(()=>{},1000)`;
    const wrapper = [process.execPath, BIN, 'run', '--job', 'ctrl-c', '--', process.execPath, '-e', command].map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(' ');
    // util-linux `script` gives the wrapper a pty as its controlling terminal; \x03 typed on it is Ctrl-C.
    // It runs `$SHELL -c`: with `exec`, the wrapper replaces the shell, which dash (SHELL unset,
    // as under CI) does not do by itself; a shell left waiting dies of the Ctrl-C itself (130).
    const term = spawn('script', ['-qfec', `exec ${wrapper}`, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    term.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    const exited = new Promise<number | null>((r) => term.once('close', (code) => r(code)));
    await until(async () => (screen.includes('READY') ? true : undefined), 'the command to start');
    term.stdin.write('\x03');
    expect(await exited).toBe(0);
    expect(readFileSync(seen, 'utf8')).toBe('INT\n');
    expect((await runs('ctrl-c'))[0]).toMatchObject({ state: 'succeeded', exit_code: 0 });
  });

  it('--timeout ends the command as GNU timeout does: one SIGTERM, exit 124, the run failed with why', async () => {
    const seen = `${spoolDir.path}/term.log`;
    // Deadlines long enough for sh to have set its trap on a loaded CI machine.
    const r = await cli(['run', '--job', 'slow', '--timeout', '1200ms', '--', 'sh', '-c', `trap 'echo TERM >> ${seen}; exit 143' TERM; while :; do sleep 0.05; done`], { env });
    expect(r.code).toBe(124);
    expect(readFileSync(seen, 'utf8')).toBe('TERM\n');
    const [run] = await runs('slow');
    expect(run).toMatchObject({ state: 'failed', exit_code: 124, error_message: 'timed out after 1200ms (--timeout)' });
    expect(run?.metadata).toMatchObject({ timed_out: true });
  });

  it('--timeout with a command that ignores SIGTERM: SIGKILL after --kill-after, exit 137', async () => {
    const r = await cli(['run', '--job', 'stubborn', '--timeout', '1200ms', '--kill-after', '300ms', '--', 'sh', '-c', "trap '' TERM; while :; do sleep 0.05; done"], { env });
    expect(r.code).toBe(137);
    expect((await runs('stubborn'))[0]).toMatchObject({ state: 'failed', exit_code: 137, error_message: 'timed out after 1200ms (--timeout), killed with SIGKILL after 0.3s more' });
    // A command done in time is untouched; a bad duration is a usage error.
    expect((await cli(['run', '--job', 'quick', '--timeout', '10s', '--', 'sh', '-c', 'exit 3'], { env })).code).toBe(3);
    const bad = await cli(['run', '--job', 'quick', '--timeout', 'soon', '--', 'true'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout expects a duration');
  });

  it.each([
    ['SIGTERM', [], 'sh -c \'echo $$; exec sleep 31\'; echo after', 124],
    // Both ignore SIGTERM (the grandchild inherits it): only the SIGKILL ends them.
    ['SIGKILL after --kill-after', ['--kill-after', '300ms'], 'trap "" TERM; sh -c \'echo $$; exec sleep 31\'; echo after', 137],
  ])('--timeout signals the processes the command started, not only the command (%s), as GNU timeout does', async (_what, extra, script, code) => {
    const r = await cli(['run', '--job', 'tree', '--timeout', '1200ms', ...extra, '--output-grace', '300ms', '--', 'sh', '-c', script], { env });
    const grandchild = Number(r.stdout.split('\n')[0]);
    expect(grandchild).toBeGreaterThan(0);
    const gone = (): boolean => {
      try {
        return readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
      } catch {
        return true;
      }
    };
    try {
      expect(r.code).toBe(code);
      expect(r.stdout).not.toContain('after');
      await until(async () => (gone() ? true : undefined), 'the command\'s child to be gone');
      expect((await runs('tree'))[0]).toMatchObject({ state: 'failed', exit_code: code });
    } finally {
      if (!gone()) process.kill(grandchild, 'SIGKILL');
    }
  });

  it('--timeout leaves a process the command moved to a session of its own, as GNU timeout does', async () => {
    // `setsid` makes a daemon of it: a signal to timeout's process group would not reach it.
    const r = await cli(['run', '--job', 'daemon', '--timeout', '1200ms', '--output-grace', '300ms', '--', 'sh', '-c', 'setsid sleep 33 </dev/null >/dev/null 2>&1 & echo $!; sleep 31'], { env });
    const daemon = Number(r.stdout.split('\n')[0]);
    try {
      expect(r.code).toBe(124);
      expect(daemon).toBeGreaterThan(0);
      expect(readFileSync(`/proc/${daemon}/cmdline`, 'utf8')).toBe('sleep\x0033\x00');
    } finally {
      if (daemon > 0) process.kill(daemon, 'SIGKILL');
    }
  });

  it('dies of the signal that killed the command', async () => {
    const r = await cli(['run', '--job', 'killed', '--', 'sh', '-c', 'kill -KILL $$'], { env });
    expect(r.signal).toBe('SIGKILL');
    expect((await runs('killed'))[0]).toMatchObject({ state: 'failed', exit_code: 137, error_message: 'killed by SIGKILL' });
  });

  it('a process the command leaves behind holding its stdout does not hold the run open', async () => {
    // As a cron script that starts a daemon: `sleep 20 &` keeps the pipe to the wrapper open.
    const t0 = Date.now();
    const r = await cli(['run', '--job', 'left-behind', '--output-grace', '300ms', '--', 'sh', '-c', 'sleep 20 & echo $!; echo JOBPULSE_PROGRESS 70; exit 3'], { env });
    const elapsed = Date.now() - t0;
    const leftover = Number(r.stdout.split('\n')[0]);
    try {
      expect(r.code).toBe(3);
      expect(elapsed).toBeLessThan(10_000);
      const [run] = await runs('left-behind');
      expect(run).toMatchObject({ state: 'failed', exit_code: 3, progress: 70 });
      expect(run?.duration_seconds).toBeLessThan(5);
    } finally {
      if (leftover > 0) process.kill(leftover, 'SIGKILL');
    }
  });

  it('after the command exited, output a slow reader has not taken yet is still passed on whole, past the grace', async () => {
    const size = 400_000;
    // Fits in the pipes and buffers between the command, the wrapper and us: the command
    // exits at once, while part of its output is still in the wrapper's pipe from it, waiting
    // for a reader slower than the grace.
    const child = spawn(process.execPath, [BIN, 'run', '--job', 'slow-after-exit', '--output-grace', '100ms', '--', process.execPath, '-e', `process.stdout.write('b'.repeat(${size}))`], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const closed = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    // A listener, then paused: Node resumes (and discards) an exited child's unread stdio
    // that nobody listens to.
    let got = 0;
    child.stdout.on('data', (d: Buffer) => (got += d.length));
    child.stdout.pause();
    await until(async () => ((await runs('slow-after-exit'))[0]?.state === 'succeeded' ? true : undefined), 'the run to end');
    await new Promise((r) => setTimeout(r, 500));
    child.stdout.resume();
    expect(await closed).toBe(0);
    expect(got).toBe(size);
  });

  it('passes on output written after the command exited, until the pipe ends', async () => {
    const r = await cli(['run', '--job', 'late-output', '--output-grace', '20s', '--', 'sh', '-c', '(sleep 0.2; echo late) & echo early'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('early\nlate\n');
    expect((await runs('late-output'))[0]).toMatchObject({ state: 'succeeded', exit_code: 0 });
  });

  it.each([
    ['a shell loop', ['sh', '-c', 'while :; do echo line; done']],
    // Fast writers: the wrapper's pipe from them is full when the reader goes, and closing it
    // with data unread gave them ECONNRESET (exit 1) instead of SIGPIPE.
    ['yes', ['yes']],
    ['seq', ['seq', '1', '100000000']],
    ['yes run by a script', ['sh', '-c', 'yes; echo after']],
  ])('when its stdout\'s reader goes away, the command (%s) dies of SIGPIPE as without the wrapper and the run says so', async (_what, command) => {
    // As `jobpulse run … | head -1`: the reader takes one chunk and closes.
    const child = spawn(process.execPath, [BIN, 'run', '--job', 'piped', '--', ...command], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('close', (c, s) => r([c, s])));
    expect(stderr).not.toContain('Unhandled');
    expect(stderr).not.toContain('Connection reset');
    expect(signal === 'SIGPIPE' || code === 141).toBe(true);
    const run = await until(async () => {
      const r = (await runs('piped'))[0];
      return r?.state === 'failed' ? r : undefined;
    }, 'the failed run');
    expect(run).toMatchObject({ exit_code: 141, error_message: 'killed by SIGPIPE' });
  });

  it('a slow reader of its stdout holds the command back, as the pipe would without the wrapper', async () => {
    const size = 20_000_000;
    // 20,000 lines of 1,000 characters: cheap to scan, so only the reader can hold it back.
    const child = spawn(process.execPath, [BIN, 'run', '--job', 'slow-reader', '--', process.execPath, '-e', `process.stdout.write(('a'.repeat(999) + '\\n').repeat(${size / 1000}))`], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Nobody reads for a while: 20 MB cannot fit in the pipes, so the command must still be running.
    await until(async () => ((await runs('slow-reader'))[0]?.state === 'running' ? true : undefined), 'the run to start');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await runs('slow-reader'))[0]?.state).toBe('running');
    let got = 0;
    child.stdout.on('data', (d: Buffer) => (got += d.length));
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    expect(code).toBe(0);
    expect(got).toBe(size);
    expect((await runs('slow-reader'))[0]?.state).toBe('succeeded');
  });

  it('passes output without newlines through in time, and a marker after it still counts', async () => {
    // 20 MB without a newline: the wrapper once kept the whole of it as one pending line and
    // rescanned it per chunk (11 s and ~300 MB here); it now keeps only what could be a marker.
    const r = await cli(['run', '--job', 'no-newlines', '--', 'sh', '-c', 'head -c 20000000 /dev/zero; printf "\\nJOBPULSE_PROGRESS 42\\n"; exit 3'], { env });
    expect(r.code).toBe(3);
    expect(r.stdout.length).toBe(20_000_000 + '\nJOBPULSE_PROGRESS 42\n'.length);
    expect((await runs('no-newlines'))[0]).toMatchObject({ state: 'failed', progress: 42 });
  }, 8_000);

  it('runs the command when the agent is down, spools, and push --flush resends when it is up', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['run', '--job', 'offline', '--url', down, '--', 'sh', '-c', 'echo JOBPULSE_PROGRESS 10; echo done'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('JOBPULSE_PROGRESS 10\ndone\n');
    expect(r.stderr).toContain(`agent unreachable at ${down} (ECONNREFUSED); 1 event(s) spooled`);
    const spooled = readFileSync(env.JOBPULSE_SPOOL as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    expect(spooled).toEqual(['started', 'progress', 'succeeded']);
    const flush = await cli(['push', '--flush'], { env });
    expect(flush.code).toBe(0);
    expect(flush.stdout).toContain('flushed 3 event(s)');
    expect((await runs('offline'))[0]).toMatchObject({ state: 'succeeded', progress: 100 });
    expect(existsSync(env.JOBPULSE_SPOOL as string)).toBe(false);
  });

  it('a flush killed while the agent does not answer keeps the spooled events for the next one', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    expect((await cli(['run', '--job', 'kept', '--url', down, '--', 'true'], { env })).code).toBe(0);
    // An agent that takes the connection and never answers: the flush waits in its POST.
    const requests: Socket[] = [];
    const hanging = createServer((sock) => void requests.push(sock));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
      let pid = 0;
      const flushing = cli(['push', '--flush', '--url', url], { env, onSpawn: (p) => (pid = p) });
      await until(async () => (requests.length > 0 ? true : undefined), 'the flush to reach the hanging agent');
      process.kill(pid, 'SIGKILL');
      expect((await flushing).signal).toBe('SIGKILL');
    } finally {
      for (const s of requests) s.destroy();
      hanging.close();
    }
    // The next run sends the killed flush's events first, then its own.
    expect((await cli(['run', '--job', 'kept', '--', 'true'], { env })).code).toBe(0);
    expect((await runs('kept')).map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
    expect(readdirSync(spoolDir.path)).toEqual([]);
  });

  it('an agent that takes connections and never answers: events queued meanwhile go as one batch, so the exit waits for one more request, not one per event', async () => {
    const sockets: Socket[] = [];
    let posts = 0;
    const hung = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.on('data', (d: Buffer) => (posts += d.toString('latin1').split('POST /push').length - 1));
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;
      const markers = 'for i in $(seq 1 20); do echo "JOBPULSE_PROGRESS $((i * 5))"; done';
      // One attempt per batch: each request waits out the sender's 5 s timeout.
      const r = await cli(['run', '--job', 'hung-agent', '--url', url, '--', 'sh', '-c', markers], { env: { ...env, JOBPULSE_RETRIES: '1' } });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`agent unreachable at ${url} (no answer within 5s); 1 event(s) spooled`);
      const spooled = readFileSync(env.JOBPULSE_SPOOL as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; progress?: number });
      expect(spooled.map((e) => e.event)).toEqual(['started', ...Array<string>(20).fill('progress'), 'succeeded']);
      expect(spooled.filter((e) => e.event === 'progress').map((e) => e.progress)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 5));
      // `started`, then everything queued behind it (one batch per event: 22 requests, ~110 s).
      expect(posts).toBeLessThanOrEqual(3);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hung.close(r));
    }
  });

  it('caps the spool: the oldest events are dropped first, counted, and reported at the flush', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const capped = { ...env, JOBPULSE_SPOOL_MAX_EVENTS: '4' };
    const runIds: string[] = [];
    let last: Result | undefined;
    for (let i = 0; i < 3; i++) {
      last = await cli(['run', '--job', 'capped', '--url', down, '--', 'true'], { env: capped });
      expect(last.code).toBe(0);
      const lines = readFileSync(env.JOBPULSE_SPOOL as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run_id: string; event: string });
      runIds.push(lines[lines.length - 1]?.run_id as string);
    }
    // Each run spooled started + succeeded: 6 events under a cap of 4 leaves the last two runs.
    const kept = readFileSync(env.JOBPULSE_SPOOL as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run_id: string; event: string });
    expect(kept.map((e) => [e.run_id, e.event])).toEqual([
      [runIds[1], 'started'],
      [runIds[1], 'succeeded'],
      [runIds[2], 'started'],
      [runIds[2], 'succeeded'],
    ]);
    // The third run appends its two events one at a time: one drop each, counted up to 2.
    expect(last?.stderr).toContain('dropped 1 oldest event(s), 2 dropped since the last flush');
    const flush = await cli(['push', '--flush'], { env: capped });
    expect(flush.code).toBe(0);
    expect(flush.stdout).toContain('flushed 4 event(s)');
    expect(flush.stderr).toContain('2 older event(s) had been dropped');
    expect((await runs('capped')).map((r) => r.state)).toEqual(['succeeded', 'succeeded']);
    expect(existsSync(`${env.JOBPULSE_SPOOL as string}.dropped`)).toBe(false);
  });

  const spooledEvents = (): { event_id: string; event: string }[] =>
    existsSync(env.JOBPULSE_SPOOL as string)
      ? readFileSync(env.JOBPULSE_SPOOL as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event_id: string; event: string })
      : [];
  /** A spool as `jobpulse run` writes it: one run's started, n heartbeats, succeeded. */
  const writeSpool = (job: string, n: number, edit: (e: Record<string, unknown>, i: number) => void = () => undefined): string[] => {
    const now = Date.now();
    const events = [
      { job_name: job, run_id: `${job}-r`, event: 'started', event_id: `${job}-0`, timestamp: now - 60_000 },
      ...Array.from({ length: n }, (_, i) => ({ job_name: job, run_id: `${job}-r`, event: 'heartbeat', event_id: `${job}-${i + 1}`, timestamp: now - 50_000 + i })),
      { job_name: job, run_id: `${job}-r`, event: 'succeeded', event_id: `${job}-${n + 1}`, timestamp: now - 1000, exit_code: 0 },
    ];
    events.forEach(edit);
    writeFileSync(env.JOBPULSE_SPOOL as string, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    return events.map((e) => e.event_id);
  };

  it('a spool larger than the agent\'s body limit is flushed whole, in chunks', async () => {
    // As QA's repro: a run that printed 8,000 progress markers while the agent was down.
    const down = `http://127.0.0.1:${await freePort()}`;
    const markers = 'i=0; while [ $i -lt 8000 ]; do echo "JOBPULSE_PROGRESS $((i/80))"; i=$((i+1)); done';
    const r = await cli(['run', '--job', 'big-spool', '--url', down, '--', 'sh', '-c', markers], { env: { ...env, JOBPULSE_RETRIES: '1' } });
    expect(r.code).toBe(0);
    expect(readFileSync(env.JOBPULSE_SPOOL as string).byteLength).toBeGreaterThan(1024 * 1024);
    const flush = await cli(['push', '--flush'], { env });
    expect(flush.stdout).toBe('flushed 8002 event(s), dropped 0, kept 0\n');
    expect(flush.code).toBe(0);
    expect((await runs('big-spool'))[0]).toMatchObject({ state: 'succeeded', progress: 100 });
    expect(readdirSync(spoolDir.path)).toEqual([]);
  });

  it('a flush the agent refuses for its token keeps every event, says why and exits 1', async () => {
    const secured = await startAgent({ config: { auth: { write_tokens: ['right-token-123456'] } } });
    try {
      const ids = writeSpool('tokened', 3);
      const flush = await cli(['push', '--flush', '--url', secured.url], { env: { ...env, JOBPULSE_TOKEN: 'wrong-token-654321' } });
      expect(flush.code).toBe(1);
      expect(flush.stdout).toContain(`flushed 0 event(s), dropped 0, kept 5 in ${env.JOBPULSE_SPOOL} (agent refused the token (401`);
      expect(spooledEvents().map((e) => e.event_id)).toEqual(ids);
      // The same through the flush `run` does first: its own events go behind the kept ones.
      const run = await cli(['run', '--job', 'tokened', '--url', secured.url, '--', 'true'], { env });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('agent refused the token (401');
      expect(spooledEvents().slice(0, 5).map((e) => e.event_id)).toEqual(ids);
      expect(spooledEvents()).toHaveLength(7);
      const ok = await cli(['push', '--flush', '--url', secured.url], { env: { ...env, JOBPULSE_TOKEN: 'right-token-123456' } });
      expect(ok.stdout).toBe('flushed 7 event(s), dropped 0, kept 0\n');
      expect(ok.code).toBe(0);
      expect(existsSync(env.JOBPULSE_SPOOL as string)).toBe(false);
    } finally {
      await secured.stop();
    }
  });

  it('one event the agent refuses as too old is dropped and named; the fresh ones around it are sent; exit 3', async () => {
    const ids = writeSpool('aged', 40, (e, i) => {
      if (i === 7) e.timestamp = Date.now() - 8 * 86_400_000; // past the default max_event_age of 7 days
    });
    const flush = await cli(['push', '--flush'], { env });
    expect(flush.code).toBe(3);
    expect(flush.stdout).toBe('flushed 41 event(s), dropped 1 (1 refused by the agent as invalid; named above), kept 0\n');
    expect(flush.stderr).toContain(`dropped event "${ids[7]}" (job "aged", heartbeat at `);
    expect(flush.stderr).toContain('refused by the agent as invalid: timestamp is older than limits.max_event_age');
    expect((await runs('aged'))[0]).toMatchObject({ state: 'succeeded', exit_code: 0 });
    expect(existsSync(env.JOBPULSE_SPOOL as string)).toBe(false);
  });

  it('the flush at the start of a run drops only what the agent refuses one by one, then sends the run\'s own events', async () => {
    // A small body limit: the 5,000-byte event can never fit, so it alone is dropped, named.
    const small = await startAgent({ config: { limits: { max_body_bytes: 4096 } } });
    try {
      const ids = writeSpool('limited', 30, (e, i) => {
        if (i === 12) e.error_message = 'x'.repeat(5000);
        if (i === 20) e.timestamp = Date.now() - 8 * 86_400_000;
      });
      const run = await cli(['run', '--job', 'limited-next', '--url', small.url, '--', 'true'], { env });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`dropped event "${ids[12]}" (job "limited", heartbeat at `);
      expect(run.stderr).toContain("larger than the agent's body limit (413");
      expect(run.stderr).toContain(`dropped event "${ids[20]}"`);
      expect(run.stderr.match(/dropped event/g)).toHaveLength(2);
      const events = async (job: string) => {
        const [r] = (await small.get(`/api/v1/jobs/${job}/runs`)).body.runs as { run_id: string; state: string }[];
        return { state: r?.state, n: (await small.get(`/api/v1/runs/${r?.run_id}`)).body.events.length as number };
      };
      expect(await events('limited')).toEqual({ state: 'succeeded', n: 30 });
      expect((await events('limited-next')).state).toBe('succeeded');
      expect(readdirSync(spoolDir.path)).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('the next run resends the spool before its own events', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    expect((await cli(['run', '--job', 'later', '--url', down, '--', 'true'], { env })).code).toBe(0);
    expect((await cli(['run', '--job', 'later', '--', 'false'], { env })).code).toBe(1);
    expect((await runs('later')).map((r) => r.state).sort()).toEqual(['failed', 'succeeded']);
  });

  it('push sends one event; jobs prints the table and JSON', async () => {
    expect((await cli(['push', '--job', 'scripted', '--event', 'started'], { env })).code).toBe(0);
    expect((await cli(['push', '--job', 'scripted', '--event', 'progress', '--progress', '30'], { env })).code).toBe(0);
    const table = await cli(['jobs'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^JOB\s+STATE\s+PROGRESS/);
    expect(table.stdout).toMatch(/scripted\s+running\s+\[###\.{7}\]\s+30%/);
    const json = JSON.parse((await cli(['jobs', '--json'], { env })).stdout);
    expect(json.jobs[0]).toMatchObject({ job_name: 'scripted', state: 'running' });
    expect((await cli(['push', '--job', 'scripted', '--event', 'bogus'], { env })).code).toBe(2);
    expect((await cli(['push', '--job', 'done-one', '--event', 'succeeded'], { env })).code).toBe(0);
    const running = await cli(['jobs', '--state', 'running'], { env });
    expect(running.stdout).toContain('scripted');
    expect(running.stdout).not.toContain('done-one');
    const bad = await cli(['jobs', '--state', 'sleeping'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('agent answered 400: invalid input: state: unknown state sleeping');
  });

  it.each([
    ['JOBPULSE_RETRIES', 'three', 'a whole number of attempts, at least 1'],
    ['JOBPULSE_RETRIES', '0', 'a whole number of attempts, at least 1'],
    ['JOBPULSE_BACKOFF_MS', '250ms', 'a whole number of milliseconds, 0 or more'],
  ])('%s=%s is refused at start with exit 2, before the command runs or anything is sent', async (name, value, expected) => {
    const bad = { ...env, [name]: value };
    const r = await cli(['run', '--job', 'bad-setting', '--', 'sh', '-c', 'echo ran'], { env: bad });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${name} expects ${expected}, got "${value}"`);
    const p = await cli(['push', '--job', 'bad-setting', '--event', 'started'], { env: bad });
    expect(p.code).toBe(2);
    expect(p.stderr).toContain(`${name} expects ${expected}`);
    expect((await a.get('/api/v1/jobs/bad-setting')).status).toBe(404);
    expect(existsSync(env.JOBPULSE_SPOOL as string)).toBe(false);
  });

  it.each([
    [['--progress', '40%'], '--progress expects a number from 0 to 100, got "40%"'],
    [['--progress', '140'], '--progress expects a number from 0 to 100, got "140"'],
    [['--progress'], '--progress expects a value'],
    [['--exit-code', 'abc'], '--exit-code expects an integer from -255 to 255, got "abc"'],
    [['--exit-code', '1.5'], '--exit-code expects an integer from -255 to 255, got "1.5"'],
    [['--exit-code'], '--exit-code expects a value'],
  ])('push %j is refused with exit 2 naming the flag, and nothing is sent', async (args, message) => {
    const r = await cli(['push', '--job', 'bad-arg', '--event', 'progress', ...args], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect((await a.get('/api/v1/jobs/bad-arg')).status).toBe(404);
  });

  it('jobs --json whose reader closes early ends quietly, as a Unix filter does', async () => {
    // Enough jobs for the JSON to outgrow the pipe's buffer, so the reader's close is felt.
    const events = Array.from({ length: 400 }, (_, i) => ({ job_name: `many-${i}-${'x'.repeat(100)}`, event: 'started' }));
    expect((await a.push(events)).status).toBe(200);
    const child = spawn(process.execPath, [BIN, 'jobs', '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
