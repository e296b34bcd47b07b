/**
 * Runs a singleton source (Spark poller, detectors) only while this replica holds its
 * lease in Redis: starts the inner source when the lease is acquired, stops it when the
 * lease is lost (renewal refused, or not renewed within the ttl), and releases the lease
 * on stop so another replica takes over at once. With one agent on SQLite the sources
 * run directly, without this wrapper.
 *
 * Fencing on write: the inner source is built with `fencedIngest(...).ingest`, which hands
 * every draft batch to ingest with `{ lease, token }` of the holding the source was
 * started under. The store's commit refuses it once a newer token has been granted
 * (FencedWriteError), so a replica paused past its lease (GC, SIGSTOP) that wakes up
 * mid-cycle cannot write its stale view over the new leader's results. The token is
 * the one of the holding, not read at write time, so a cycle begun under an old holding
 * never borrows a newer token.
 */
import type { Redis } from 'ioredis';
import { FencedWriteError } from '../domain/errors.js';
import type { IngestFn } from '../ingest/ingest.js';
import type { Logger } from '../runtime/logger.js';
import { createLease, type Lease } from '../store/redis/lease.js';
import type { Source, SourceHealth } from './source.js';

export interface LeasedSource extends Source {
  readonly lease: Lease;
  /** True while the inner source runs on this replica. */
  active(): boolean;
}

/** The token a leased source writes under; set by createLeasedSource when it wins the lease. */
export interface FenceCell {
  readonly lease: string;
  token: number | undefined;
}

/** Wraps ingest for a singleton source named `lease`: every call carries the cell's fence. */
export function fencedIngest(ingest: IngestFn, lease: string): { ingest: IngestFn; cell: FenceCell } {
  const cell: FenceCell = { lease, token: undefined };
  return {
    cell,
    ingest: (drafts, opts) => {
      const token = cell.token;
      // Never started under a lease: nothing to write on behalf of.
      if (token === undefined) return Promise.reject(new FencedWriteError(lease, undefined, undefined));
      return ingest(drafts, { ...opts, fence: { lease, token } });
    },
  };
}

export function createLeasedSource(deps: { source: Source; redis: Redis; keyPrefix: string; ttlMs: number; logger: Logger; fence?: FenceCell }): LeasedSource {
  const { source, logger } = deps;
  let active = false;
  // Start/stop of the inner source are chained so a quick lose-then-win cannot interleave them.
  let chain: Promise<void> = Promise.resolve();
  const then = (step: () => Promise<void>): void => {
    chain = chain.then(step).catch((err) => logger.error('leased source transition failed', { source: source.name, err }));
  };
  const lease = createLease({
    redis: deps.redis,
    key_prefix: deps.keyPrefix,
    name: source.name,
    ttlMs: deps.ttlMs,
    onAcquired: (token) =>
      then(async () => {
        logger.info('lease acquired: singleton source starts here', { source: source.name, token });
        // Set in the chain, after the previous holding's stop finished its last cycle.
        if (deps.fence) deps.fence.token = token;
        active = true;
        await source.start();
      }),
    onLost: () =>
      then(async () => {
        logger.warn('lease lost: singleton source stops here', { source: source.name });
        active = false;
        await source.stop();
      }),
  });
  let stopping: Promise<void> | undefined;
  return {
    name: source.name,
    lease,
    active: () => active,
    async start() {
      lease.start();
    },
    stop() {
      stopping ??= (async () => {
        lease.pause();
        await chain;
        if (active) await source.stop();
        active = false;
        await lease.stop();
      })();
      return stopping;
    },
    health(): SourceHealth {
      return active ? source.health() : { ok: true, detail: 'standby: another replica holds the lease' };
    },
  };
}
