/**
 * Structured JSON logs, one object per line, with scoped children carrying
 * context (source, job_name, run_id). No global instance: main.ts creates one.
 *
 * A busy agent logs a line per run state change: a Kafka topic of status messages makes
 * one per message. Two costs mattered there (bench/micro/logger.mjs):
 * - a `process.stdout.write` per line, 6–8 µs to /dev/null or a pipe (a syscall and the
 *   stream's bookkeeping each time). The default sink gathers the lines of one turn of the
 *   event loop and writes them once; warnings and errors are written at once, after the
 *   lines before them, and whatever is gathered is written when the process exits. A
 *   `kill -9` can lose the info lines of the turn it interrupts, never a warning or an error.
 * - building each line: a spread of time, level, message, context and fields into one
 *   object, then JSON.stringify. The context is serialized once per logger, the time
 *   string once per millisecond, and the fields on their own.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Where lines go. `urgent` lines (warn, error) must be written before `write` returns. */
export type LineWriter = (line: string, urgent: boolean) => void;

export interface LoggerOptions {
  level?: LogLevel;
  /** Default: lines gathered per event-loop turn and written to stdout (`bufferedLines`). */
  write?: LineWriter;
  /** Default sink only: bytes waiting for stdout's reader past which lines are dropped (process-wide; the latest value given holds). */
  maxBacklogBytes?: number;
  now?: () => number;
}

/** Gathered lines are written at once past this many characters. */
const FLUSH_CHARS = 64 * 1024;

/**
 * A LineWriter that hands `out` the lines of one event-loop turn in one call. `flush()`
 * writes what is gathered now; the returned writer also flushes on `process.on('exit')`.
 */
export function bufferedLines(out: (chunk: string) => void): LineWriter & { flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out(chunk);
  };
  const onTurn = (): void => {
    scheduled = false;
    flush();
  };
  process.once('exit', flush);
  const write = (line: string, urgent: boolean): void => {
    pending += line;
    if (urgent || pending.length >= FLUSH_CHARS) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(onTurn).unref();
    }
  };
  return Object.assign(write, { flush });
}

let stdoutLines: (LineWriter & { flush(): void }) | undefined;
/** Default of log.max_backlog_bytes. */
export const MAX_LOG_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Set by the latest logger created with `maxBacklogBytes` (serve passes log.max_backlog_bytes). */
let stdoutMaxBacklog = MAX_LOG_BACKLOG_BYTES;

/**
 * One buffered stdout sink per process, shared by every default logger, made at the first line
 * written: importing this module (or a silent logger) touches nothing.
 */
const toStdout: LineWriter = (line, urgent) => (stdoutLines ??= stdoutSink())(line, urgent);

/**
 * stdout as the agent's log, kept from harming the agent:
 * - A reader that goes away (a log shipper restarting, a closed pipe) makes writes fail with
 *   EPIPE, and an 'error' nobody handles ends the process. Lines are dropped from then on
 *   instead, and that is said once on stderr (whose own failures are ignored: it may be the
 *   same pipe).
 * - Writes to a pipe are asynchronous: Node keeps what the reader has not taken in memory,
 *   without bound (a stalled reader under a Kafka topic's line per message grew the agent by
 *   megabytes a second). Past log.max_backlog_bytes waiting, lines are dropped and counted; once
 *   the reader catches up, a warning line says how many were lost.
 */
function stdoutSink(): LineWriter & { flush(): void } {
  let broken = false;
  let dropped = 0;
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (broken) return;
    broken = true;
    process.stderr.write(`jobpulse: stdout failed (${err.code ?? err.message}); log lines are dropped from now on\n`);
  });
  return bufferedLines((chunk) => {
    if (broken) return;
    if (process.stdout.writableLength > stdoutMaxBacklog) {
      for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) dropped += 1;
      return;
    }
    if (dropped > 0) {
      const note = `{"time":"${timeOf(Date.now())}${LEVEL_PART.warn}"log lines dropped: the reader of stdout fell behind","dropped":${dropped},"max_backlog_bytes":${stdoutMaxBacklog}}\n`;
      dropped = 0;
      process.stdout.write(note);
    }
    process.stdout.write(chunk);
  });
}

/** `"time":"…"` for a unix-ms instant: many lines share a millisecond. */
let lastMs = Number.NaN;
let lastTime = '';
const timeOf = (ms: number): string => {
  if (ms !== lastMs) {
    lastMs = ms;
    lastTime = new Date(ms).toISOString();
  }
  return lastTime;
};

const LEVEL_PART: Record<Exclude<LogLevel, 'silent'>, string> = {
  debug: '","level":"debug","msg":',
  info: '","level":"info","msg":',
  warn: '","level":"warn","msg":',
  error: '","level":"error","msg":',
};

const RESERVED = new Set(['time', 'level', 'msg']);
const overrides = (fields: Record<string, unknown>, context: Record<string, unknown>): boolean => {
  for (const k in fields) if (Object.hasOwn(context, k) || RESERVED.has(k)) return true;
  return false;
};

const errorJson = (err: Error): Record<string, unknown> => ({ message: err.message, name: err.name, stack: err.stack });

export function createLogger(opts: LoggerOptions = {}, context: Record<string, unknown> = {}): Logger {
  const min = RANK[opts.level ?? 'info'];
  if (opts.maxBacklogBytes !== undefined) stdoutMaxBacklog = opts.maxBacklogBytes;
  const write = opts.write ?? toStdout;
  const now = opts.now ?? Date.now;
  // `,"k":v,…` of the context, ready to splice after the message.
  const contextJson = JSON.stringify(context.err instanceof Error ? { ...context, err: errorJson(context.err) } : context);
  const contextPart = contextJson === '{}' ? '' : `,${contextJson.slice(1, -1)}`;
  const contextReserved = overrides(context, {});
  const emit = (level: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < min) return;
    const urgent = RANK[level] >= RANK.warn;
    const time = timeOf(now());
    if (contextReserved || (fields !== undefined && overrides(fields, context))) {
      // Rare: a key twice (a field over the context, or over time/level/msg): merged as a spread would.
      const rec: Record<string, unknown> = { time, level, msg, ...context, ...fields };
      if (rec.err instanceof Error) rec.err = errorJson(rec.err);
      write(`${JSON.stringify(rec)}\n`, urgent);
      return;
    }
    let rest = contextPart;
    if (fields !== undefined) {
      const json = JSON.stringify(fields.err instanceof Error ? { ...fields, err: errorJson(fields.err) } : fields);
      if (json !== '{}') rest += `,${json.slice(1, -1)}`;
    }
    write(`{"time":"${time}${LEVEL_PART[level]}${JSON.stringify(msg)}${rest}}\n`, urgent);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(opts, { ...context, ...fields }),
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
