/**
 * Sends events to an agent's `POST /push` in order, for the CLI. Each batch is retried
 * with exponential backoff within bounds; when the agent stays unreachable the events
 * go to a local spool file (JSON lines) that the next `jobpulse run` or
 * `jobpulse push --flush` resends. Events carry client-made `event_id`s, so a resend
 * after a lost answer is applied once.
 *
 * The spool is capped (`spoolMaxEvents`, default 10,000 events, and `spoolMaxBytes`,
 * default 10 MiB): a host whose agent is gone for weeks must not fill its disk. When an
 * append goes over either cap the oldest events are dropped first (the newest say most
 * about the job now), each drop is logged with its count, and the running total is kept in
 * `<spool>.dropped` until the next flush reports it.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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
  /** Most events the spool keeps; older ones are dropped first (default 10,000). */
  spoolMaxEvents?: number;
  /** Most bytes the spool file may hold; older events are dropped first (default 10 MiB). */
  spoolMaxBytes?: number;
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
  spool(opts, events);
  opts.warn?.(`jobpulse: agent unreachable at ${opts.url}; ${events.length} event(s) spooled to ${opts.spoolPath}`);
  return 'spooled';
}

export const DEFAULT_SPOOL_MAX_EVENTS = 10_000;
/** Most events a batch that waits for the one in flight gathers (the agent takes 10,000 per push). */
const MAX_QUEUED_BATCH = 1_000;
export const DEFAULT_SPOOL_MAX_BYTES = 10 * 1024 * 1024;

const droppedPath = (path: string): string => `${path}.dropped`;

/** Events dropped from the spool since it was last flushed. */
export function spoolDropped(path: string): number {
  try {
    const n = Number(readFileSync(droppedPath(path), 'utf8').trim());
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
}

/** Appends events to the spool, then enforces the caps by dropping the oldest events. */
export function spool(opts: Pick<SenderOptions, 'spoolPath' | 'spoolMaxEvents' | 'spoolMaxBytes' | 'warn'>, events: CliEvent[]): void {
  const path = opts.spoolPath;
  const maxEvents = Math.max(1, opts.spoolMaxEvents ?? DEFAULT_SPOOL_MAX_EVENTS);
  const maxBytes = Math.max(1, opts.spoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES);
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  // Cheap check first: most appends are far below the byte cap and need no line count.
  const size = statSync(path).size;
  if (size <= maxBytes && !mayExceedCount(path, maxEvents, size)) return;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  let bytes = size;
  let drop = 0;
  while (drop < lines.length && (lines.length - drop > maxEvents || bytes > maxBytes)) {
    bytes -= Buffer.byteLength(lines[drop] as string) + 1;
    drop += 1;
  }
  if (drop === 0) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, lines.slice(drop).map((l) => `${l}\n`).join(''));
  renameSync(tmp, path);
  const total = spoolDropped(path) + drop;
  writeFileSync(droppedPath(path), `${total}\n`);
  opts.warn?.(`jobpulse: spool ${path} over its cap (${maxEvents} events, ${maxBytes} bytes): dropped ${drop} oldest event(s), ${total} dropped since the last flush`);
}

/** Counts lines only when the file could hold more than maxEvents (a spooled event is at least 40 bytes). */
function mayExceedCount(path: string, maxEvents: number, size: number): boolean {
  if (size < maxEvents * 40) return false;
  const text = readFileSync(path, 'utf8');
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n += 1;
  return n > maxEvents;
}

/** `<spool>.<pid>.<n>.flushing`: a spool taken by process `pid` for resending. */
const takenName = (path: string, n: number): string => `${path}.${process.pid}.${n}.flushing`;
let taken = 0;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Spools taken for resending by processes that died before they knew the outcome (killed
 * during the POST): their events are still owed, and resent like the spool's own.
 */
function orphans(path: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.flushing')) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) out.push(join(dir, name));
  }
  return out.sort();
}

/**
 * Resends the spool; events the agent took are removed, the rest stay. Returns how many were sent.
 * The spool is moved aside first, so a concurrent run appends to a fresh file instead of
 * racing this one, and the moved file is removed only once the outcome is known: removed
 * before the POST, a flush killed while it waited for the agent lost every spooled event.
 * A resend after such a kill may repeat events the agent took; their event ids make it a no-op.
 */
export async function flushSpool(opts: SenderOptions): Promise<{ sent: number; left: number }> {
  const files = orphans(opts.spoolPath);
  const mine = takenName(opts.spoolPath, ++taken);
  try {
    renameSync(opts.spoolPath, mine);
    files.push(mine);
  } catch (err) {
    // No spool (or another run took it first): only orphans, if any.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (files.length === 0) return { sent: 0, left: 0 };
  const events = files.flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      return []; // another flusher adopted this orphan first
    }
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as CliEvent];
        } catch {
          return [];
        }
      });
  });
  const forget = (): void => {
    for (const f of files) {
      try {
        unlinkSync(f);
      } catch {
        /* adopted and removed by another flusher */
      }
    }
  };
  if (events.length === 0) {
    forget();
    return { sent: 0, left: 0 };
  }
  const r = await post(opts, events);
  if (r === 'retry') {
    spool(opts, events);
    forget();
    return { sent: 0, left: events.length };
  }
  forget();
  const dropped = spoolDropped(opts.spoolPath);
  if (dropped > 0) {
    opts.warn?.(`jobpulse: spool flushed; ${dropped} older event(s) had been dropped from it (spool cap)`);
    try {
      unlinkSync(droppedPath(opts.spoolPath));
    } catch {
      /* already gone */
    }
  }
  return { sent: r === 'ok' ? events.length : 0, left: 0 };
}

/**
 * An ordered queue: events go out one batch at a time, in the order they were enqueued.
 * While the spool holds events (an earlier run's, or this run's after the agent went
 * away) new events go behind them: the spool is flushed first (one attempt) and, if the
 * agent is still away, the new events are appended to it at once, without a backoff per
 * batch, so a long outage never slows the command's exit by more than one retry cycle (and,
 * for an agent that takes connections and never answers, one request timeout more).
 */
export function createSender(opts: SenderOptions) {
  let chain: Promise<unknown> = Promise.resolve();
  // Also behind a spool a killed flush left taken: its events are older than this run's.
  let behindSpool = existsSync(opts.spoolPath) || orphans(opts.spoolPath).length > 0;
  const deliver = async (events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> => {
    if (behindSpool) {
      const { left } = await flushSpool(opts).catch(() => ({ left: 1 }));
      if (left > 0) {
        spool(opts, events);
        return 'spooled';
      }
      behindSpool = false;
    }
    const r = await sendWithRetry(opts, events);
    if (r === 'spooled') behindSpool = true;
    return r;
  };
  /** The batch waiting for the one in flight: later events join it (see send). */
  let waiting: { events: CliEvent[]; done: Promise<'ok' | 'refused' | 'spooled'> } | undefined;
  return {
    /**
     * Events sent while a batch is in flight join the one batch waiting behind it (up to
     * MAX_QUEUED_BATCH events), in order. One batch per call queued every call behind the
     * last: with an agent that accepts connections and never answers, each waited out its
     * 5 s timeout, so 20 progress markers held the wrapper's exit ~2 minutes after the command
     * (1 s heartbeats: 54 s after an 8 s command), and a long run's heartbeats piled up
     * without bound. Now the exit waits for the batch in flight and one more.
     */
    send(events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> {
      if (events.length === 0) return chain.then(() => 'ok' as const);
      if (waiting && waiting.events.length + events.length <= MAX_QUEUED_BATCH) {
        waiting.events.push(...events);
        return waiting.done;
      }
      const batch = { events: [...events], done: undefined as unknown as Promise<'ok' | 'refused' | 'spooled'> };
      batch.done = chain.then(() => {
        // From here on it is in flight: what comes next waits in a batch of its own.
        if (waiting === batch) waiting = undefined;
        return deliver(batch.events);
      });
      waiting = batch;
      chain = batch.done.catch(() => undefined);
      return batch.done;
    },
    idle: (): Promise<unknown> => chain,
  };
}
