/**
 * `jobpulse push --job NAME --event EVENT [--run-id ID] [--progress N] [--exit-code N]
 *  [--message TEXT] [--url URL]` sends one event (for scripts); `jobpulse push --flush`
 * resends the spool left by runs that could not reach the agent.
 */
import { randomUUID } from 'node:crypto';
import { isClientEventType } from '../domain/job-event.js';
import { createSender, flushSpool, type CliEvent, type SenderOptions } from './event-sender.js';
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
    const { sent, left } = await flushSpool(opts);
    io.stdout(`flushed ${sent} event(s)${left > 0 ? `, ${left} left in ${opts.spoolPath} (agent unreachable)` : ''}\n`);
    return left > 0 ? 1 : 0;
  }
  const job = flags.job;
  const event = flags.event;
  if (typeof job !== 'string' || typeof event !== 'string' || !isClientEventType(event)) {
    io.stderr('usage: jobpulse push --job NAME --event started|progress|heartbeat|succeeded|failed|cancelled|queued|submitted [--run-id ID] [--progress N] [--exit-code N] [--message TEXT]\n       jobpulse push --flush\n');
    return 2;
  }
  const e: CliEvent & { run_id?: string } = { job_name: job, event, event_id: randomUUID(), timestamp: Date.now() } as CliEvent;
  if (typeof flags['run-id'] === 'string') e.run_id = flags['run-id'];
  else delete (e as { run_id?: string }).run_id;
  if (typeof flags.progress === 'string') e.progress = Number(flags.progress);
  if (typeof flags['exit-code'] === 'string') e.exit_code = Number(flags['exit-code']);
  if (typeof flags.message === 'string') e.error_message = flags.message;
  const r = await createSender(opts).send([e]);
  return r === 'ok' ? 0 : 1;
}
