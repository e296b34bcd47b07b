/**
 * The only module that touches `process`: argv → command. Commands are imported when
 * chosen: `jobpulse push` from cron should not load the agent (SQLite, Kafka, Redis).
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParsedArgs } from './cli/args.js';
import { VERSION } from './version.js';

const USAGE = `usage: jobpulse <command> [options]

commands:
  serve [--config FILE]   run the agent (config: YAML file, JOBPULSE_* environment overrides)
  run --job NAME [--url URL] [--heartbeat 30s] [--strip-progress] [--output-grace 2s]
      [--timeout DURATION [--kill-after DURATION]] -- CMD ARGS...
                          run CMD and report it: started, heartbeats, progress
                          (lines "JOBPULSE_PROGRESS <0-100>"), succeeded/failed
  push --job NAME --event EVENT [--run-id ID] [--progress N] [--exit-code N] [--message TEXT]
                          send one event;  push --flush  resends the spool
  jobs [--watch] [--json] [--state S,...]
                          print the jobs table (--watch redraws what fits the terminal,
                          --json for scripts, --state keeps jobs in those states)
  version                 print the version

Client commands read JOBPULSE_URL (default http://127.0.0.1:9469), JOBPULSE_TOKEN,
JOBPULSE_SPOOL (default ~/.jobpulse/spool.jsonl) and the spool caps JOBPULSE_SPOOL_MAX_EVENTS
(default 10000) and JOBPULSE_SPOOL_MAX_BYTES (default 10485760; oldest events dropped first).

See jobpulse.example.yaml for every setting.
`;

/**
 * A client command whose output's reader has gone (`jobpulse jobs --json | head -1`) ends
 * quietly, as any Unix filter does, instead of with an unhandled EPIPE and its stack trace.
 */
const endQuietlyOnClosedStdout = (): void => {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
};

/** The flags each command reads: anything else is a typo (`--conifg`) that must not start the agent another way. */
const SENDER_FLAGS = ['url', 'token', 'spool', 'spool-max-events', 'spool-max-bytes'];
const FLAGS: Record<string, readonly string[]> = {
  serve: ['config'],
  run: ['job', 'heartbeat', 'strip-progress', 'output-grace', 'timeout', 'kill-after', ...SENDER_FLAGS],
  push: ['job', 'event', 'run-id', 'progress', 'exit-code', 'message', 'flush', ...SENDER_FLAGS],
  jobs: ['watch', 'json', 'state', 'url', 'token'],
};

/** A usage error for an unknown flag or a stray argument, or undefined when the command line is sound. */
function badArgs(command: string, args: ParsedArgs): string | undefined {
  const known = FLAGS[command] ?? [];
  for (const f of Object.keys(args.flags))
    if (!known.includes(f)) return `jobpulse ${command}: unknown option --${f} (options: ${known.map((k) => `--${k}`).join(', ')})`;
  const stray = args.positional[0];
  if (stray !== undefined) return `jobpulse ${command}: unexpected argument ${JSON.stringify(stray)}${command === 'run' ? ' (the command goes after --)' : ''}`;
  return undefined;
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command !== 'serve' && command !== 'run') endQuietlyOnClosedStdout();
  if (command !== undefined && FLAGS[command] && (rest[0] === '--help' || rest[0] === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const checked = (args: ParsedArgs): ParsedArgs | undefined => {
    const why = badArgs(command as string, args);
    if (why === undefined) return args;
    process.stderr.write(`${why}\n`);
    return undefined;
  };
  switch (command) {
    case 'serve': {
      const args = checked(parseArgs(rest));
      if (!args) return 2;
      const { serveCommand } = await import('./cli/serve.js');
      return serveCommand(args.flags, {
        env: process.env,
        stderr: (s) => process.stderr.write(s),
        onSignal: (sig, fn) => process.on(sig, fn),
        exit: (code) => process.exit(code),
      });
    }
    case 'run': {
      const args = checked(parseArgs(rest, ['strip-progress']));
      if (!args) return 2;
      const { runCommand } = await import('./cli/run.js');
      const { inTerminalForeground } = await import('./cli/terminal-signals.js');
      return runCommand(args.flags, args.rest, {
        env: process.env,
        stdout: process.stdout,
        stderr: process.stderr,
        onSignal: (sig, fn) => process.on(sig, fn),
        offSignal: (sig, fn) => process.off(sig, fn),
        killSelf: (sig) => process.kill(process.pid, sig),
        // Read when a signal comes: `fg` and `bg` move the job between foreground and background.
        inTerminalForeground: () => {
          try {
            return inTerminalForeground(readFileSync('/proc/self/stat', 'utf8'));
          } catch {
            return false; // no /proc (not Linux): forward as before
          }
        },
      });
    }
    case 'push': {
      const args = checked(parseArgs(rest, ['flush']));
      if (!args) return 2;
      const { pushCommand } = await import('./cli/push.js');
      return pushCommand(args.flags, { env: process.env, stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) });
    }
    case 'jobs': {
      const args = checked(parseArgs(rest, ['watch', 'json']));
      if (!args) return 2;
      const { jobsCommand } = await import('./cli/jobs.js');
      return jobsCommand(args.flags, {
        env: process.env,
        stdout: (s) => process.stdout.write(s),
        stderr: (s) => process.stderr.write(s),
        onSignal: (sig, fn) => process.on(sig, fn),
        rows: () => (process.stdout.isTTY ? process.stdout.rows : undefined),
      });
    }
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`jobpulse: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}
