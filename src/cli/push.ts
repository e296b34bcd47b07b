/**
 * `jobpulse push --job NAME --event EVENT [--run-id ID] [--progress N] [--exit-code N]
 *  [--message TEXT] [--url URL]` sends one event (for scripts); `jobpulse push --flush`
 * resends the spool left by runs that could not reach the agent.
 *
 * Exit codes: 0 everything was sent (or the spool was empty); 1 events are kept in the spool
 * (the agent was unreachable, busy or refused the token: flush again once it can take them);
 * 2 a usage error; 3 nothing is kept but events were dropped, each named on stderr (the agent
 * refused them one by one: invalid, or alone larger than its body limit). A single `push`
 * exits 1 when its event was not taken (spooled, or refused).
 */
import { randomUUID } from 'node:crypto';
import { isClientEventType } from '../domain/job-event.js';
import { createSender, flushSpool, flushSummary, type CliEvent, type SenderOptions } from './event-sender.js';
import { BadSettingError, senderOptions } from './run.js';

export async function pushCommand(flags: Record<string, string | true>, io: { env: NodeJS.ProcessEnv; stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  let opts: SenderOptions;
  try {
    opts = senderOptions(flags, io.env, io.stderr);
  } catch (err) {
    if (!(err instanceof BadSettingError)) throw err;
    io.stderr(`${err.message}\n`);
    return 2;
  }
  if (flags.flush === true) {
    const r = await flushSpool(opts);
    io.stdout(`${flushSummary(r, opts.spoolPath)}\n`);
    return r.left > 0 ? 1 : r.dropped > 0 ? 3 : 0;
  }
  const job = flags.job;
  const event = flags.event;
  if (typeof job !== 'string' || typeof event !== 'string' || !isClientEventType(event)) {
    io.stderr('usage: jobpulse push --job NAME --event started|progress|heartbeat|succeeded|failed|cancelled|queued|submitted [--run-id ID] [--progress N] [--exit-code N] [--message TEXT]\n       jobpulse push --flush\n');
    return 2;
  }
  // A flag given without a value, or a number that is not one, is refused: taken as unset
  // (`--progress 40%` became null, `--progress` alone was ignored) the event went out without
  // it and the script saw exit 0.
  for (const name of ['run-id', 'progress', 'exit-code', 'message']) {
    if (flags[name] === true) {
      io.stderr(`jobpulse: --${name} expects a value\n`);
      return 2;
    }
  }
  const number = (name: string, ok: (n: number) => boolean, what: string): number | undefined | null => {
    const v = flags[name];
    if (typeof v !== 'string') return undefined;
    const n = v.trim() === '' ? NaN : Number(v);
    if (ok(n)) return n;
    io.stderr(`jobpulse: --${name} expects ${what}, got ${JSON.stringify(v)}\n`);
    return null;
  };
  const progress = number('progress', (n) => Number.isFinite(n) && n >= 0 && n <= 100, 'a number from 0 to 100');
  const exitCode = number('exit-code', (n) => Number.isInteger(n) && n >= -255 && n <= 255, 'an integer from -255 to 255');
  if (progress === null || exitCode === null) return 2;
  const e: CliEvent & { run_id?: string } = { job_name: job, event, event_id: randomUUID(), timestamp: Date.now() } as CliEvent;
  if (typeof flags['run-id'] === 'string') e.run_id = flags['run-id'];
  else delete (e as { run_id?: string }).run_id;
  if (progress !== undefined) e.progress = progress;
  if (exitCode !== undefined) e.exit_code = exitCode;
  if (typeof flags.message === 'string') e.error_message = flags.message;
  const r = await createSender(opts).send([e]);
  return r === 'ok' ? 0 : 1;
}
