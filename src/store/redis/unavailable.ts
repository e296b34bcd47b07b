/**
 * Which ioredis failures mean "Redis cannot answer now" (the routes' 503), and which leave
 * a write's outcome unknown. One place for both, so no store method passes a raw ioredis
 * error up to the HTTP layer, where anything unmapped is a 500 "internal error".
 */
import { StoreUnavailableError } from '../../domain/errors.js';

/** ioredis' own messages (5.x) for a connection that is gone, not yet there, or not answering. */
const CONNECTION_MESSAGES = [
  'Connection is closed.',
  "Stream isn't writeable",
  'Command timed out',
  'Command aborted due to connection close',
  'connect ETIMEDOUT',
  'Reached the max retries per request limit',
  'Socket timeout',
  'Ready check failed',
];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * Replies of a Redis that is up but refuses to serve: persistence failing (MISCONF), a primary
 * demoted by a failover (READONLY), min-replicas-to-write unmet, loading its data, out of memory,
 * a long script. A script or command bug (ERR …, WRONGTYPE) stays a 500: retrying will not help.
 */
const REFUSING_REPLY = /^(MISCONF|READONLY|NOREPLICAS|LOADING|MASTERDOWN|OOM|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

const isReplyError = (e: Error): boolean => e.name === 'ReplyError';

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (isReplyError(err)) return REFUSING_REPLY.test(err.message);
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'AbortError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.some((m) => err.message.startsWith(m));
}

/**
 * True when a write that failed this way may still have been carried out: the command was
 * (or may have been) sent, and the answer never came (a timeout, a connection dropped while
 * waiting). A reply error means Redis ran nothing; a command refused while disconnected was
 * never sent.
 */
export function outcomeUnknown(err: unknown): boolean {
  if (!(err instanceof Error) || isReplyError(err)) return false;
  return isUnavailable(err) && !err.message.startsWith("Stream isn't writeable");
}

/** The error a store method throws: StoreUnavailableError for an unavailable Redis (cause kept), else `err` as it was. */
export function storeError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError || !isUnavailable(err)) return err;
  return new StoreUnavailableError(`store unavailable: ${(err as Error).message}`, { cause: err });
}

/**
 * Wraps every method of `o` so a rejection (or throw) goes through `storeError`. Methods named
 * in `except` are left as they are.
 */
export function mapUnavailable<T extends object>(o: T, except: readonly (keyof T)[] = []): T {
  const out = { ...o };
  for (const key of Object.keys(o) as (keyof T)[]) {
    const f = o[key];
    if (typeof f !== 'function' || except.includes(key)) continue;
    out[key] = function (this: unknown, ...args: unknown[]) {
      try {
        const r = (f as (...a: unknown[]) => unknown).apply(this, args);
        return r instanceof Promise ? r.catch((e: unknown) => Promise.reject(storeError(e))) : r;
      } catch (e) {
        throw storeError(e);
      }
    } as T[keyof T];
  }
  return out;
}
