/**
 * Sends events to an agent's `POST /push` in order, for the CLI. Each batch is retried
 * with exponential backoff within bounds; when the agent stays unreachable the events
 * go to a local spool file (JSON lines) that the next `jobpulse run` or
 * `jobpulse push --flush` resends. Events carry client-made `event_id`s, so a resend
 * after a lost answer is applied once. Events go out in bounded chunks, and nothing is
 * deleted for an answer that is about the request rather than the event (a 401, a 413 for
 * many events, a 400 from something that is not the agent): see `deliver`.
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

/**
 * Bounds of one POST: well under the agent's default 1 MiB body limit and 10,000 events per
 * push. The whole spool (up to 10 MiB) once went out as one request; its 413 counted as a
 * refusal and every spooled event was deleted.
 */
export const CHUNK_MAX_BYTES = 256 * 1024;
export const CHUNK_MAX_EVENTS = 500;

/** What one POST of a chunk came to. */
type Answer =
  | { kind: 'ok' }
  /** The agent cannot or will not take anything now (unreachable, busy, wrong token, wrong URL): keep it all. */
  | { kind: 'stop'; why: string; transient: boolean }
  | { kind: 'too-large' }
  /** 400 from the agent's validation: `issues[].index` names the chunk's events it refused, when the path says. */
  | { kind: 'invalid'; issues: { index?: number; field: string; message: string }[] };

const ISSUE_PATH = /^\[(\d+)\](?:\.(.*))?$/;

async function post(opts: SenderOptions, events: CliEvent[]): Promise<Answer> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${opts.url.replace(/\/$/, '')}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      body: JSON.stringify(events),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    text = await res.text();
  } catch (err) {
    // fetch's own message is "fetch failed" for everything: the cause says which failure.
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const cause = e.name === 'TimeoutError' ? `no answer within ${(opts.timeoutMs ?? 5000) / 1000}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { kind: 'stop', why: `agent unreachable at ${opts.url} (${cause})`, transient: true };
  }
  if (res.ok) return { kind: 'ok' };
  let body: { error?: unknown; code?: unknown; issues?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    /* not the agent's JSON error: judged by the status alone */
  }
  const said = typeof body.error === 'string' ? `: ${body.error}` : '';
  if (res.status === 413) return { kind: 'too-large' };
  // Only the agent's own validation answer names events; a 400 from anything else (a proxy,
  // another service at that URL) says nothing about them, and nothing is dropped for it.
  if (res.status === 400 && typeof body.code === 'string' && Array.isArray(body.issues)) {
    return {
      kind: 'invalid',
      issues: (body.issues as { path?: unknown; message?: unknown }[]).map((i) => {
        const m = ISSUE_PATH.exec(typeof i.path === 'string' ? i.path : '');
        return { index: m ? Number(m[1]) : undefined, field: m ? (m[2] ?? '(event)') : String(i.path), message: String(i.message) };
      }),
    };
  }
  if (res.status === 401 || res.status === 403) return { kind: 'stop', why: `agent refused the token (${res.status}${said}; check JOBPULSE_TOKEN / --token)`, transient: false };
  return { kind: 'stop', why: `agent answered ${res.status}${said}`, transient: res.status === 429 || res.status >= 500 };
}

/** A chunk's POST, retried with backoff while the agent is unreachable or busy (429, 5xx). */
async function postWithRetry(opts: SenderOptions, events: CliEvent[], attempts: number): Promise<Answer> {
  let wait = opts.backoffMs ?? 250;
  for (let i = 0; ; i++) {
    const r = await post(opts, events);
    if (r.kind !== 'stop' || !r.transient || i >= attempts - 1) return r;
    await sleep(wait);
    wait *= 2;
  }
}

export interface Delivery {
  sent: number;
  /** Events the agent refused one by one (invalid, or too large for it): they can never be taken. */
  dropped: { event: CliEvent; why: string }[];
  /** Events not taken because the agent could not or would not take anything now; owed still. */
  kept: CliEvent[];
  /** Why `kept` is not empty. */
  why?: string;
}

const lineBytes = (e: CliEvent): number => Buffer.byteLength(JSON.stringify(e)) + 1;

function chunks(events: CliEvent[]): CliEvent[][] {
  const out: CliEvent[][] = [];
  let cur: CliEvent[] = [];
  let bytes = 2;
  for (const e of events) {
    const n = lineBytes(e);
    if (cur.length > 0 && (cur.length >= CHUNK_MAX_EVENTS || bytes + n > CHUNK_MAX_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 2;
    }
    cur.push(e);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const describe = (e: CliEvent): string =>
  `${JSON.stringify(e.event_id)} (job ${JSON.stringify(e.job_name)}, ${e.event}${Number.isFinite(e.timestamp) ? ` at ${new Date(e.timestamp).toISOString()}` : ''})`;

/**
 * Sends events in order, in bounded chunks, and accounts for every one: sent, dropped (only
 * what the agent refuses individually: a 400 naming the event, or a 413 for an event alone)
 * or kept (everything from the first chunk the agent could not or would not take, on). A
 * 413 splits the chunk; a 400 naming events drops those and resends the rest; a 400 naming
 * none (a per-push cap lower than ours) splits it.
 */
export async function deliver(opts: SenderOptions, events: CliEvent[], attempts: number): Promise<Delivery> {
  const out: Delivery = { sent: 0, dropped: [], kept: [] };
  const drop = (e: CliEvent, why: string): void => {
    out.dropped.push({ event: e, why });
    opts.warn?.(`jobpulse: dropped event ${describe(e)}: ${why}`);
  };
  const queue = chunks(events);
  while (queue.length > 0) {
    const chunk = queue.shift() as CliEvent[];
    const r = await postWithRetry(opts, chunk, attempts);
    if (r.kind === 'ok') out.sent += chunk.length;
    else if (r.kind === 'stop') {
      out.kept = [chunk, ...queue].flat();
      out.why = r.why;
      break;
    } else if (r.kind === 'too-large') {
      if (chunk.length === 1) drop(chunk[0] as CliEvent, `larger than the agent's body limit (413; limits.max_body_bytes), ${lineBytes(chunk[0] as CliEvent) - 1} bytes`);
      else queue.unshift(chunk.slice(0, chunk.length >> 1), chunk.slice(chunk.length >> 1));
    } else {
      const bad = new Map<number, string[]>();
      for (const i of r.issues) {
        if (i.index === undefined || i.index >= chunk.length) continue;
        bad.set(i.index, [...(bad.get(i.index) ?? []), `${i.field} ${i.message}`]);
      }
      if (bad.size > 0) {
        for (const [i, why] of [...bad].sort((x, y) => x[0] - y[0])) drop(chunk[i] as CliEvent, `refused by the agent as invalid: ${why.join('; ')}`);
        const rest = chunk.filter((_, i) => !bad.has(i));
        if (rest.length > 0) queue.unshift(rest);
      } else if (chunk.length > 1) queue.unshift(chunk.slice(0, chunk.length >> 1), chunk.slice(chunk.length >> 1));
      else {
        out.kept = [chunk, ...queue].flat();
        out.why = `agent answered 400 without naming the event: ${r.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`;
        break;
      }
    }
  }
  return out;
}

/**
 * Sends a batch, retrying within bounds; what the agent could not take now is spooled.
 * 'refused': some events were dropped as the agent refused them one by one.
 */
export async function sendWithRetry(opts: SenderOptions, events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> {
  const d = await deliver(opts, events, Math.max(1, opts.attempts ?? 4));
  if (d.kept.length > 0) {
    spool(opts, d.kept);
    opts.warn?.(`jobpulse: ${d.why}; ${d.kept.length} event(s) spooled to ${opts.spoolPath}`);
    return 'spooled';
  }
  return d.dropped.length > 0 ? 'refused' : 'ok';
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

export interface FlushResult {
  sent: number;
  /** Dropped at this flush, by reason (refused as invalid, too large, unreadable line). */
  dropped: number;
  droppedWhy: string[];
  /** Left in the spool, owed still. */
  left: number;
  why?: string;
}

/**
 * Resends the spool in bounded chunks (see deliver): what the agent took is removed, what it
 * refused one by one is dropped with a message each, and everything else stays spooled.
 * The spool is moved aside first, so a concurrent run appends to a fresh file instead of
 * racing this one, and the moved file is removed only once the outcome is known: removed
 * before the POST, a flush killed while it waited for the agent lost every spooled event.
 * A resend after such a kill may repeat events the agent took; their event ids make it a no-op.
 */
export async function flushSpool(opts: SenderOptions): Promise<FlushResult> {
  const files = orphans(opts.spoolPath);
  const mine = takenName(opts.spoolPath, ++taken);
  try {
    renameSync(opts.spoolPath, mine);
    files.push(mine);
  } catch (err) {
    // No spool (or another run took it first): only orphans, if any.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const result: FlushResult = { sent: 0, dropped: 0, droppedWhy: [], left: 0 };
  if (files.length === 0) return result;
  let unreadable = 0;
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
          // A line cut short (a full disk, a crash mid-append): it cannot be sent as it is.
          unreadable += 1;
          opts.warn?.(`jobpulse: dropped a spool line that is not JSON (${f}): ${l.slice(0, 80)}${l.length > 80 ? '…' : ''}`);
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
  const d = events.length > 0 ? await deliver(opts, events, 1) : { sent: 0, dropped: [], kept: [] as CliEvent[], why: undefined };
  // Kept events go back to the spool before the taken files go: killed in between, they are owed twice, never lost.
  if (d.kept.length > 0) spool(opts, d.kept);
  forget();
  const byWhy = new Map<string, number>();
  const tally = (why: string, n: number): void => void (n > 0 && byWhy.set(why, (byWhy.get(why) ?? 0) + n));
  tally('not JSON', unreadable);
  for (const x of d.dropped) tally(x.why.startsWith('refused by the agent as invalid') ? 'refused by the agent as invalid' : "over the agent's body limit", 1);
  result.sent = d.sent;
  result.dropped = unreadable + d.dropped.length;
  result.droppedWhy = [...byWhy].map(([why, n]) => `${n} ${why}`);
  result.left = d.kept.length;
  if (d.why !== undefined) result.why = d.why;
  if (result.left === 0) {
    const capped = spoolDropped(opts.spoolPath);
    if (capped > 0) {
      opts.warn?.(`jobpulse: spool flushed; ${capped} older event(s) had been dropped from it (spool cap)`);
      try {
        unlinkSync(droppedPath(opts.spoolPath));
      } catch {
        /* already gone */
      }
    }
  }
  return result;
}

/** The last line of a flush: sent, dropped and why, kept and why. */
export const flushSummary = (r: FlushResult, spoolPath: string): string =>
  `flushed ${r.sent} event(s), dropped ${r.dropped}${r.dropped > 0 ? ` (${r.droppedWhy.join(', ')}; named above)` : ''}, kept ${r.left}${r.left > 0 ? ` in ${spoolPath} (${r.why ?? 'not sent'})` : ''}`;

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
  let told = false;
  const deliverInOrder = async (events: CliEvent[]): Promise<'ok' | 'refused' | 'spooled'> => {
    if (behindSpool) {
      const r = await flushSpool(opts).catch((err: Error) => ({ left: 1, why: `spool not readable: ${err.message}` }));
      if (r.left > 0) {
        spool(opts, events);
        // Once per run: every later batch meets the same agent.
        if (!told) opts.warn?.(`jobpulse: ${r.why ?? 'spool not flushed'}; events kept in ${opts.spoolPath}`);
        told = true;
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
        return deliverInOrder(batch.events);
      });
      waiting = batch;
      chain = batch.done.catch(() => undefined);
      return batch.done;
    },
    idle: (): Promise<unknown> => chain,
  };
}
