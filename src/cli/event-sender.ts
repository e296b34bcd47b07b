/**
 * Sends events to an agent's `POST /push` in order, for the CLI. Each batch is retried
 * with exponential backoff within bounds; when the agent stays unreachable the events
 * go to a local spool file (JSON lines) that the next `jobpulse run` or
 * `jobpulse push --flush` resends. Events carry client-made `event_id`s, so a resend
 * after a lost answer is applied once.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';

export interface CliEvent {
  job_name: string;
  run_id: string;
  event: string;
  event_id: string;
  timestamp: number;
  progress?: number;
  exit_code?: number;
  error_message?: string;
  metadata?: unknown;
}

export interface SenderOptions {
  url: string;
  token?: string;
  spoolPath: string;
  /** Attempts per batch before spooling (default 4). */
  attempts?: number;
  /** First backoff in ms, doubled per attempt (default 250). */
  backoffMs?: number;
  /** Per-request timeout in ms (default 5000). */
  timeoutMs?: number;
  warn?: (s: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One POST; resolves true on 2xx, false when the agent cannot take it now; 4xx other than 429 is final. */
async function post(opts: SenderOptions, events: CliEvent[]): Promise<'ok' | 'retry' | 'refused'> {
  try {
    const res = await fetch(`${opts.url.replace(/\/$/, '')}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      body: JSON.stringify(events),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    await res.arrayBuffer();
    if (res.ok) return 'ok';
    if (res.status === 429 || res.status >= 500) return 'retry';
    opts.warn?.(`jobpulse: agent refused events (${res.status}); not retried`);
    return 'refused';
  } catch {
    return 'retry';
  }
}

export async function sendWithRetry(opts: SenderOptions, events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> {
  const attempts = Math.max(1, opts.attempts ?? 4);
  let wait = opts.backoffMs ?? 250;
  for (let i = 0; i < attempts; i++) {
    const r = await post(opts, events);
    if (r === 'ok' || r === 'refused') return r;
    if (i < attempts - 1) {
      await sleep(wait);
      wait *= 2;
    }
  }
  spool(opts.spoolPath, events);
  opts.warn?.(`jobpulse: agent unreachable at ${opts.url}; ${events.length} event(s) spooled to ${opts.spoolPath}`);
  return 'spooled';
}

export function spool(path: string, events: CliEvent[]): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
}

/** Resends the spool; events the agent took are removed, the rest stay. Returns how many were sent. */
export async function flushSpool(opts: SenderOptions): Promise<{ sent: number; left: number }> {
  if (!existsSync(opts.spoolPath)) return { sent: 0, left: 0 };
  // Move it aside first so a concurrent run appends to a fresh file instead of racing this one.
  const taking = `${opts.spoolPath}.${process.pid}.flushing`;
  renameSync(opts.spoolPath, taking);
  const events = readFileSync(taking, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as CliEvent];
      } catch {
        return [];
      }
    });
  unlinkSync(taking);
  if (events.length === 0) return { sent: 0, left: 0 };
  const r = await post(opts, events);
  if (r === 'retry') {
    spool(opts.spoolPath, events);
    return { sent: 0, left: events.length };
  }
  return { sent: r === 'ok' ? events.length : 0, left: 0 };
}

/**
 * An ordered queue: events go out one batch at a time, in the order they were enqueued.
 * While the spool holds events (an earlier run's, or this run's after the agent went
 * away) new events go behind them: the spool is flushed first (one attempt) and, if the
 * agent is still away, the new events are appended to it at once, without a backoff per
 * batch, so a long outage never slows the command's exit by more than one retry cycle.
 */
export function createSender(opts: SenderOptions) {
  let chain: Promise<unknown> = Promise.resolve();
  let behindSpool = existsSync(opts.spoolPath);
  const deliver = async (events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> => {
    if (behindSpool) {
      const { left } = await flushSpool(opts).catch(() => ({ left: 1 }));
      if (left > 0) {
        spool(opts.spoolPath, events);
        return 'spooled';
      }
      behindSpool = false;
    }
    const r = await sendWithRetry(opts, events);
    if (r === 'spooled') behindSpool = true;
    return r;
  };
  return {
    send(events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> {
      const p = chain.then(() => (events.length > 0 ? deliver(events) : ('ok' as const)));
      chain = p.catch(() => undefined);
      return p;
    },
    idle: (): Promise<unknown> => chain,
  };
}
