/**
 * Runs the built agent (bin/jobpulse.js → dist/) as a child process, for tests that
 * must kill it for real. `npm test` builds dist/ first (pretest).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

export interface AgentProcess {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function spawnAgent(opts: {
  db: string;
  env?: Record<string, string>;
  port?: number;
  /** A soft RLIMIT_FSIZE (KiB) for the agent: writes past it fail as on a full disk; `prlimit` can lift it. */
  fileSizeLimitKib?: number;
}): Promise<AgentProcess> {
  const port = opts.port ?? (await freePort());
  const [cmd, args] =
    opts.fileSizeLimitKib === undefined
      ? [process.execPath, ['bin/jobpulse.js', 'serve']]
      : ['sh', ['-c', `ulimit -S -f ${opts.fileSizeLimitKib} && exec "$0" "$@"`, process.execPath, 'bin/jobpulse.js', 'serve']];
  const child = spawn(cmd, args, {
    env: { ...process.env, JOBPULSE_PORT: String(port), JOBPULSE_HOST: '127.0.0.1', JOBPULSE_DB: opts.db, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`agent exited during start-up:\n${out}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`agent not ready after 15 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url, port, output: () => out, exited };
}
