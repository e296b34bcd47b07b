/**
 * The poller's only way to reach a cluster: GET + JSON with a per-request timeout
 * (AbortController), at most `maxConcurrent` requests in flight, and every failure
 * turned into a typed, countable PollError so a bad answer never escapes as a crash.
 */

/** Result labels of `jobpulse_spark_polls_total`. */
export const POLL_RESULTS = ['ok', 'not_found', 'timeout', 'http_error', 'invalid_json', 'too_large', 'connection_error', 'unexpected'] as const;
export type PollResult = (typeof POLL_RESULTS)[number];

export class PollError extends Error {
  override readonly name = 'PollError';
  constructor(
    readonly result: Exclude<PollResult, 'ok'>,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type FetchFn = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

/** A counting semaphore: `run(fn)` waits for a free slot. */
export function createLimiter(max: number): { run<T>(fn: () => Promise<T>): Promise<T>; active(): number } {
  let active = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(fn) {
      if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
      else active += 1;
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        // The slot passes straight to the next waiter, so `active` never overshoots.
        if (next) next();
        else active -= 1;
      }
    },
    active: () => active,
  };
}

export interface SparkHttp {
  /** GET base_url + path, parsed JSON; throws PollError. `onResult` sees every request's outcome. */
  getJson(path: string): Promise<unknown>;
}

export function createSparkHttp(opts: {
  baseUrl: string;
  timeoutMs: number;
  /** Largest body read (a cluster's answer is read whole before parsing). */
  maxBytes?: number;
  maxConcurrent: number;
  fetch?: FetchFn;
  onResult?: (result: PollResult, seconds: number) => void;
}): SparkHttp {
  const limiter = createLimiter(opts.maxConcurrent);
  const doFetch: FetchFn = opts.fetch ?? ((url, init) => fetch(url, init));
  const base = opts.baseUrl.replace(/\/+$/, '');

  const once = async (path: string): Promise<unknown> => {
    const url = `${base}${path}`;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), opts.timeoutMs);
    try {
      let res: Response;
      try {
        res = await doFetch(url, { signal: ac.signal, headers: { accept: 'application/json' } });
      } catch (err) {
        if (ac.signal.aborted) throw new PollError('timeout', `GET ${path}: no answer within ${opts.timeoutMs} ms`);
        throw new PollError('connection_error', `GET ${path}: ${causeOf(err)}`);
      }
      let text: string;
      try {
        text = await readText(res, opts.maxBytes ?? Number.POSITIVE_INFINITY, () => ac.abort());
      } catch (err) {
        if (err instanceof PollError) throw new PollError(err.result, `GET ${path}: ${err.message}`, res.status);
        if (ac.signal.aborted) throw new PollError('timeout', `GET ${path}: body not complete within ${opts.timeoutMs} ms`);
        throw new PollError('connection_error', `GET ${path}: body cut off (${causeOf(err)})`);
      }
      if (res.status === 404) throw new PollError('not_found', `GET ${path}: 404 ${snippet(text)}`, 404);
      if (res.status < 200 || res.status >= 300) throw new PollError('http_error', `GET ${path}: HTTP ${res.status} ${snippet(text)}`, res.status);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new PollError('invalid_json', `GET ${path}: not JSON (${snippet(text)})`, res.status);
      }
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    getJson(path) {
      return limiter.run(async () => {
        const t0 = performance.now();
        try {
          const body = await once(path);
          opts.onResult?.('ok', (performance.now() - t0) / 1000);
          return body;
        } catch (err) {
          const e = err instanceof PollError ? err : new PollError('unexpected', String(err));
          opts.onResult?.(e.result, (performance.now() - t0) / 1000);
          throw e;
        }
      });
    },
  };
}

const causeOf = (err: unknown): string => {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
};

const snippet = (text: string): string => JSON.stringify(text.replace(/\s+/g, ' ').trim().slice(0, 120));

/**
 * The body as text, read no further than `maxBytes`: a server that answers with an endless
 * or enormous body (a proxy's error stream, a huge listing) would otherwise be held in memory
 * until the request timeout.
 */
async function readText(res: Response, maxBytes: number, abort: () => void): Promise<string> {
  const tooLarge = (): PollError => new PollError('too_large', `body over ${maxBytes} bytes (spark max_response_bytes)`);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    abort();
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      abort();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
