/**
 * `jobpulse run --job NAME [--url URL] [--heartbeat 30s] [--strip-progress] [--output-grace 2s] [--timeout 2h [--kill-after 10s]] -- CMD ARGS...`
 *
 * Runs CMD with stdin inherited and stdout/stderr passed through byte for byte; sends
 * `started`, a `heartbeat` every interval, `progress` for every marker line
 *     JOBPULSE_PROGRESS <0-100>
 * the command prints (on stdout or stderr; `--strip-progress` removes those lines from
 * the output), and `succeeded` / `failed` with the exit code or the signal. Signals the
 * wrapper receives are forwarded to the command, but for those a terminal already sent to
 * both (Ctrl-C in the foreground: terminal-signals.ts); the wrapper exits with the command's
 * code, or dies of the same signal. The outcome is the command's exit: output still open
 * after it (a background process it started holds the pipe) is passed on for at most
 * `--output-grace`, then no longer read. The agent being down never changes what the command
 * does: events are retried within bounds, then spooled (see event-sender.ts).
 *
 * `--timeout` ends a command that runs too long as GNU `timeout` would (SIGTERM, SIGKILL after
 * `--kill-after`, to the command's whole process tree; exit 124 or 137) and reports it failed with why. `timeout 2h jobpulse run …`
 * cannot do that cleanly: timeout signals its whole process group, so the command got the
 * SIGTERM twice (once from timeout, once forwarded), which tools take as "abort now".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { parseDuration } from '../runtime/duration.js';
import { createSender, type CliEvent, type SenderOptions } from './event-sender.js';
import { everyProcess, fdTarget, holding, processTree, signalAll, type Proc } from './proc-tree.js';
import { TERMINAL_SIGNALS } from './terminal-signals.js';

export const PROGRESS_MARKER = /^JOBPULSE_PROGRESS[ \t]+(\d+(?:\.\d+)?)[ \t]*\r?$/;
/** A line longer than this is not a marker (and is not held to be checked). */
const MARKER_LINE_MAX = 256;
const MARKER_WORD = 'JOBPULSE_PROGRESS';
/** What may follow the word in a line that is not finished yet and could still become a marker. */
const MARKER_TAIL_SO_FAR = /^[ \t]+(?:\d+(?:\.(?:\d+(?:[ \t]*\r?)?)?|[ \t]*\r?)?)?$/;

/**
 * Whether the start of a line (no newline yet) could still become a marker line. The marker
 * is ASCII, so bytes are looked at as latin1: one character per byte, whatever the encoding.
 */
export function couldBeMarker(start: Buffer): boolean {
  if (start.length > MARKER_LINE_MAX) return false;
  const s = start.toString('latin1');
  if (s.length <= MARKER_WORD.length) return MARKER_WORD.startsWith(s);
  return s.startsWith(MARKER_WORD) && MARKER_TAIL_SO_FAR.test(s.slice(MARKER_WORD.length));
}

/** The progress a complete line (without its newline) reports, if it is a marker. */
const markerIn = (line: Buffer): RegExpExecArray | null =>
  line.length === 0 || line.length > MARKER_LINE_MAX || line[0] !== 0x4a /* J */ ? null : PROGRESS_MARKER.exec(line.toString('latin1'));

/**
 * After the command's exit: `settled` when its stdout and stderr have ended or `graceMs` has
 * passed (then the outcome is sent), `ended` when the wrapper is done with them. A pipe still
 * open after the grace is no longer read, as the wrapper's own exit would do (a writer left
 * behind gets EPIPE), unless it is paused because our reader is slow: what it holds is the
 * command's output, not yet passed on (cutting it lost the last ~150 KB of a 550 KB output),
 * and it is looked at again one grace later.
 */
function outputEnd(child: ChildProcess, graceMs: number): { settled: Promise<void>; ended: Promise<void> } {
  const pipes = [child.stdout, child.stderr].filter((p): p is NonNullable<typeof p> => p !== null && !p.destroyed && !p.readableEnded);
  const ended = Promise.all(pipes.map((p) => new Promise<void>((r) => (p.closed ? r() : p.once('close', () => r()))))).then(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const settled = new Promise<void>((resolve) => {
    const cut = (): void => {
      resolve();
      const open = pipes.filter((p) => !p.closed);
      for (const p of open) if (!p.isPaused()) p.destroy();
      if (open.some((p) => !p.destroyed)) timer = setTimeout(cut, graceMs);
    };
    timer = setTimeout(cut, graceMs);
    void ended.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { settled, ended };
}

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  onSignal: (signal: NodeJS.Signals, fn: () => void) => void;
  offSignal: (signal: NodeJS.Signals, fn: () => void) => void;
  /** Ends the wrapper by the same signal the command died of. */
  killSelf: (signal: NodeJS.Signals) => void;
  /** Whether the wrapper (and so the command, in its process group) is in a terminal's foreground group now. */
  inTerminalForeground?: () => boolean;
}

/** A positive integer setting, or undefined for the default (a bad value must not lift the cap). */
const positive = (v: string | true | undefined): number | undefined => {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

/** A client setting that cannot be used: the command says so and exits 2 before doing anything. */
export class BadSettingError extends Error {}

/**
 * A whole number of at least `min` from the environment, or undefined when unset. Refused when
 * malformed: `Number('three')` is NaN, and NaN attempts made the retry loop run zero times, so
 * every event went straight to the spool without one try.
 */
const envInteger = (env: NodeJS.ProcessEnv, name: string, min: number, what: string): number | undefined => {
  const v = env[name];
  if (v === undefined) return undefined;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new BadSettingError(`jobpulse: ${name} expects ${what}, got ${JSON.stringify(v)}`);
  return n;
};

/** The sender's settings from flags and environment; throws BadSettingError for one that cannot be used. */
export const senderOptions = (flags: Record<string, string | true>, env: NodeJS.ProcessEnv, warn: (s: string) => void): SenderOptions => ({
  url: typeof flags.url === 'string' ? flags.url : (env.JOBPULSE_URL ?? 'http://127.0.0.1:9469'),
  token: typeof flags.token === 'string' ? flags.token : env.JOBPULSE_TOKEN,
  spoolPath: typeof flags.spool === 'string' ? flags.spool : (env.JOBPULSE_SPOOL ?? `${env.HOME ?? '.'}/.jobpulse/spool.jsonl`),
  attempts: envInteger(env, 'JOBPULSE_RETRIES', 1, 'a whole number of attempts, at least 1'),
  backoffMs: envInteger(env, 'JOBPULSE_BACKOFF_MS', 0, 'a whole number of milliseconds, 0 or more'),
  spoolMaxEvents: positive(flags['spool-max-events'] ?? env.JOBPULSE_SPOOL_MAX_EVENTS),
  spoolMaxBytes: positive(flags['spool-max-bytes'] ?? env.JOBPULSE_SPOOL_MAX_BYTES),
  warn,
});

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export async function runCommand(flags: Record<string, string | true>, command: string[], io: CliIo): Promise<number | undefined> {
  const warn = (s: string): void => void io.stderr.write(`${s}\n`);
  const job = flags.job;
  if (typeof job !== 'string' || job === '' || command.length === 0) {
    warn('usage: jobpulse run --job NAME [--url URL] [--heartbeat 30s] [--strip-progress] [--output-grace 2s] [--timeout 2h [--kill-after 10s]] -- CMD ARGS...');
    return 2;
  }
  const heartbeatMs = typeof flags.heartbeat === 'string' ? parseDuration(flags.heartbeat) : 30_000;
  if (heartbeatMs === undefined || heartbeatMs <= 0) {
    warn(`jobpulse: --heartbeat expects a duration like 30s, got ${JSON.stringify(flags.heartbeat)}`);
    return 2;
  }
  const outputGraceMs = typeof flags['output-grace'] === 'string' ? parseDuration(flags['output-grace']) : 2_000;
  if (outputGraceMs === undefined || outputGraceMs < 0) {
    warn(`jobpulse: --output-grace expects a duration like 2s, got ${JSON.stringify(flags['output-grace'])}`);
    return 2;
  }
  const timeoutMs = typeof flags.timeout === 'string' ? parseDuration(flags.timeout) : flags.timeout === undefined ? 0 : undefined;
  if (timeoutMs === undefined || timeoutMs < 0) {
    warn(`jobpulse: --timeout expects a duration like 2h, got ${JSON.stringify(flags.timeout)}`);
    return 2;
  }
  const killAfterMs = typeof flags['kill-after'] === 'string' ? parseDuration(flags['kill-after']) : flags['kill-after'] === undefined ? 10_000 : undefined;
  if (killAfterMs === undefined || killAfterMs < 0) {
    warn(`jobpulse: --kill-after expects a duration like 10s, got ${JSON.stringify(flags['kill-after'])}`);
    return 2;
  }
  const strip = flags['strip-progress'] === true;
  let opts: SenderOptions;
  try {
    opts = senderOptions(flags, io.env, warn);
  } catch (err) {
    if (!(err instanceof BadSettingError)) throw err;
    warn(err.message);
    return 2;
  }
  const sender = createSender(opts);
  const run_id = randomUUID();
  let seq = 0;
  const ev = (event: string, extra: Partial<CliEvent> = {}): CliEvent => ({ job_name: job, run_id, event, event_id: `${run_id}:${++seq}:${event}`, timestamp: Date.now(), ...extra });

  // Earlier runs' spooled events go first: the sender flushes the spool before this run's events.
  void sender.send([ev('started')]);

  const started = Date.now();
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['inherit', 'pipe', 'pipe'], env: io.env });

  const progress = (m: RegExpExecArray): void => void sender.send([ev('progress', { progress: Math.min(100, Number(m[1])) })]);
  // The command's ends of its stdout and stderr (`socket:[n]`), seen while it surely has them.
  const ends = child.pid === undefined ? [] : [fdTarget(child.pid, 1), fdTarget(child.pid, 2)];
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const watch = (from: NodeJS.ReadableStream, to: NodeJS.WritableStream, end: string | undefined): void => {
    // Our stdout's reader gone (`jobpulse run … | head -1`): without the wrapper the command
    // would get SIGPIPE on its next write, so it gets it from us, then its end is closed.
    // Closing alone was not the same: the command's end is a socket, and closed with unread
    // data it fails the next write with ECONNRESET ("yes: standard output: Connection reset
    // by peer", exit 1) instead of the kernel's SIGPIPE (141). Every process that holds that
    // end gets it (a script's writer is often its child); one that ignores SIGPIPE meets the
    // error on its next write. The unhandled EPIPE used to end the wrapper (exit 1) before
    // the command's outcome was sent.
    let broken = false;
    to.on('error', () => {
      if (broken) return;
      broken = true;
      const holders = end === undefined ? [] : holding(everyProcess(), end);
      if (holders.length > 0) signalAll(holders, 'SIGPIPE');
      else if (alive()) child.kill('SIGPIPE');
      (from as NodeJS.ReadableStream & { destroy(): void }).destroy();
    });
    // A reader that is slow holds the command back, as the pipe would without the wrapper:
    // the wrapper takes no more of the command's output until ours drains (a pipe write that
    // cannot complete is kept in memory, and a stalled reader grew the wrapper without bound).
    const pass = (data: Buffer | string): void => {
      if (!to.write(data)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    // Bytes, not text: decoded and re-encoded, output that is not UTF-8 (latin1, gzip) came out
    // with U+FFFD in place of its bytes. Only the start of the current line is held, and only
    // while it could still become a marker: a prompt without a newline ("Continue? ") was held
    // until the newline, and output without newlines (binary data, `\r` progress bars) once
    // grew one string for the whole stream and rescanned it per chunk.
    let held: Buffer = Buffer.alloc(0);
    let inPlainLine = false; // the current line is known not to be a marker
    const NL = 0x0a;
    from.on('data', (chunk: Buffer) => {
      if (broken) return;
      if (!strip) pass(chunk);
      const out: Buffer[] = [];
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(NL, at);
        if (inPlainLine) {
          const stop = nl < 0 ? chunk.length : nl + 1;
          out.push(chunk.subarray(at, stop));
          at = stop;
          if (nl >= 0) inPlainLine = false;
          continue;
        }
        const piece = chunk.subarray(at, nl < 0 ? chunk.length : nl);
        const line = held.length === 0 ? piece : Buffer.concat([held, piece]);
        held = Buffer.alloc(0);
        if (nl >= 0) {
          const m = markerIn(line);
          if (m) progress(m);
          else out.push(line, chunk.subarray(nl, nl + 1));
          at = nl + 1;
        } else {
          // A copy: a held subarray would keep the whole chunk alive.
          if (couldBeMarker(line)) held = Buffer.from(line);
          else {
            out.push(line);
            inPlainLine = true;
          }
          at = chunk.length;
        }
      }
      if (strip && out.length > 0) pass(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
    });
    from.on('end', () => {
      if (broken || held.length === 0) return;
      const m = markerIn(held);
      if (m) progress(m);
      else if (strip) to.write(held);
    });
  };
  watch(child.stdout as NodeJS.ReadableStream, io.stdout, ends[0]);
  watch(child.stderr as NodeJS.ReadableStream, io.stderr, ends[1]);

  const heartbeat = setInterval(() => void sender.send([ev('heartbeat')]), heartbeatMs);
  const forwarders = FORWARDED.map((sig) => {
    const fn = (): void => {
      // The terminal sent it to the whole foreground group, the command included (terminal-signals.ts).
      if (TERMINAL_SIGNALS.has(sig) && io.inTerminalForeground?.()) return;
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    io.onSignal(sig, fn);
    return [sig, fn] as const;
  });

  // GNU timeout's contract: SIGTERM at the deadline, SIGKILL `--kill-after` later if still there,
  // to the command and everything it started: `child.kill` reached the command alone, and a
  // script's children (`sh -c 'sleep 32; …'`) ran on after the timeout. GNU timeout signals its
  // process group; the wrapper shares its group with the rest of a pipeline (`| tee`) and must
  // not leave the terminal's foreground group (Ctrl-C), so the tree is found by parent pid in
  // /proc. The processes signalled with SIGTERM are signalled with SIGKILL too, wherever they
  // were reparented since; one started after the walk is caught by a second walk.
  let timedOut: 'term' | 'kill' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const signalled: Proc[] = [];
  const signalTree = (signal: NodeJS.Signals): void => {
    const seen = new Set(signalled.map((p) => `${p.pid}:${p.start}`));
    const reached = signal === 'SIGKILL' ? signalAll(signalled, signal) : [];
    for (let round = 0; round < 3 && child.pid !== undefined; round++) {
      const fresh = processTree(child.pid).filter((p) => !seen.has(`${p.pid}:${p.start}`));
      if (fresh.length === 0) break;
      for (const p of fresh) seen.add(`${p.pid}:${p.start}`);
      reached.push(...signalAll(fresh, signal));
      signalled.push(...fresh);
    }
    // No /proc (not Linux): the command alone, as before.
    if (reached.length === 0 && alive()) child.kill(signal);
  };
  const deadline =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = 'term';
          signalTree('SIGTERM');
          killTimer = setTimeout(() => {
            timedOut = 'kill';
            signalTree('SIGKILL');
          }, killAfterMs);
        }, timeoutMs)
      : undefined;

  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: 127, signal: null, error }));
    // 'exit', not 'close': a process the command left behind (`daemon &`, a forked server)
    // may hold its stdout open for hours; the command's outcome is known when it exits.
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ended = Date.now();
  clearInterval(heartbeat);
  clearTimeout(deadline);
  clearTimeout(killTimer);
  // What the command wrote before it exited is still in the pipes: pass it on (a last
  // progress marker goes before the outcome), but wait for the pipes' end only so long.
  const output = outputEnd(child, outputGraceMs);
  await output.settled;
  const duration = (ended - started) / 1000;
  if (outcome.error) warn(`jobpulse: cannot run ${command[0]}: ${outcome.error.message}`);
  // Timed out: 124 as GNU timeout exits (137 when it took SIGKILL), however the command ended.
  const code = timedOut === 'kill' ? 137 : timedOut ? 124 : (outcome.code ?? 128 + (outcome.signal ? (constants.signals[outcome.signal] ?? 0) : 0));
  const ok = code === 0 && outcome.signal === null;
  const why = timedOut
    ? `timed out after ${flags.timeout as string} (--timeout)${timedOut === 'kill' ? `, killed with SIGKILL after ${killAfterMs / 1000}s more` : ''}`
    : outcome.error
      ? `cannot run ${command[0]}: ${outcome.error.message}`
      : outcome.signal
        ? `killed by ${outcome.signal}`
        : `exited with code ${code}`;
  await sender.send([
    ev(ok ? 'succeeded' : 'failed', {
      timestamp: ended,
      exit_code: code,
      ...(ok ? {} : { error_message: why }),
      metadata: { duration_seconds: duration, ...(outcome.signal ? { signal: outcome.signal } : {}), ...(timedOut ? { timed_out: true } : {}) },
    }),
  ]);
  await sender.idle();
  await output.ended;
  for (const [sig, fn] of forwarders) io.offSignal(sig, fn);
  if (timedOut) return code;
  if (outcome.signal) {
    io.killSelf(outcome.signal);
    return 128 + (constants.signals[outcome.signal] ?? 0);
  }
  return code;
}
