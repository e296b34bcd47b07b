/**
 * A lease in Redis for singleton work (the Spark poller, the detectors): at most one
 * replica holds it at a time, and a holder that dies or pauses loses it after `ttlMs`.
 *
 * - Acquire: `SET lease NX PX ttl`, then `INCR fence` gives this holding a fencing token
 *   (one Lua script, so the token and the lease are granted together).
 * - Renew every `ttlMs / 3` with compare-and-pexpire: only the holder whose value
 *   (`owner|token`) is still there extends it, so a holder that lost it cannot revive it.
 * - A replica whose acquire fails learns the lease's remaining time (PTTL) and tries
 *   again right when it expires, so a dead holder is replaced within `ttlMs` of its last
 *   renewal rather than up to a campaign interval later.
 * - Fencing: a write made on behalf of the lease goes through `fencedSet`, which Redis
 *   accepts only while the token is still the newest one granted. A holder paused past
 *   its lease (GC, SIGSTOP) wakes up with an old token and its write is refused, even
 *   before it notices it lost the lease.
 *
 * Timing uses the process' monotonic clock, not the injected Clock: expiry is decided by
 * the Redis server in real time, and `held()` must stop claiming the lease in real time too.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

const ACQUIRE = `
if redis.call('SET', KEYS[1], 'granting', 'NX', 'PX', ARGV[2]) then
  local t = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2])
  return t
end
return -math.max(redis.call('PTTL', KEYS[1]), 0)`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
const FENCED_SET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`;

type LeaseCommands = Redis & {
  jpLeaseAcquire(lease: string, fence: string, owner: string, ttl: number): Promise<number>;
  jpLeaseRenew(lease: string, value: string, ttl: number): Promise<number>;
  jpLeaseRelease(lease: string, value: string): Promise<number>;
  jpFencedSet(fence: string, key: string, token: string, value: string): Promise<number>;
};

export interface LeaseOptions {
  redis: Redis;
  key_prefix: string;
  /** What the lease guards, e.g. `spark-poller`. */
  name: string;
  ttlMs: number;
  owner?: string;
  onAcquired?: (token: number) => void;
  onLost?: () => void;
}

export interface Lease {
  readonly owner: string;
  /** True while this process holds the lease and its last renewal is younger than the ttl. */
  held(): boolean;
  /** Fencing token of the current holding. */
  token(): number | undefined;
  tryAcquire(): Promise<boolean>;
  renew(): Promise<boolean>;
  /** Writes `value` under `key` only if this holding's token is still the newest. */
  fencedSet(key: string, value: string): Promise<boolean>;
  /** Campaigns: acquires when free, renews while held. */
  start(): void;
  /** Stops campaigning without releasing: what a paused or killed process looks like. */
  pause(): void;
  /** Stops and releases the lease so another replica takes over at once. Idempotent. */
  stop(): Promise<void>;
}

export function createLease(opts: LeaseOptions): Lease {
  const redis = opts.redis as LeaseCommands;
  if (typeof (opts.redis as unknown as Partial<LeaseCommands>).jpLeaseAcquire !== 'function') {
    redis.defineCommand('jpLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand('jpLeaseRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('jpLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('jpFencedSet', { numberOfKeys: 2, lua: FENCED_SET });
  }
  const owner = opts.owner ?? randomUUID();
  const leaseKey = `${opts.key_prefix}lease:${opts.name}`;
  const fenceKey = `${leaseKey}:fence`;
  let current: number | undefined;
  /** Monotonic time before which Redis surely still holds the lease for us (timed from before each request). */
  let validUntil = 0;
  let timer: NodeJS.Timeout | undefined;
  let atExpiry: NodeJS.Timeout | undefined;
  /** Remaining ms of someone else's lease, as the last failed acquire saw it. */
  let othersRemaining: number | undefined;
  let stopped: Promise<void> | undefined;

  const value = (): string => `${owner}|${current}`;
  const lose = (): void => {
    if (current === undefined) return;
    current = undefined;
    opts.onLost?.();
  };

  const lease: Lease = {
    owner,
    held: () => current !== undefined && performance.now() < validUntil,
    token: () => current,
    async tryAcquire() {
      if (lease.held()) return true;
      const started = performance.now();
      const t = Number(await redis.jpLeaseAcquire(leaseKey, fenceKey, owner, opts.ttlMs));
      if (t <= 0) {
        othersRemaining = -t;
        return false;
      }
      othersRemaining = undefined;
      current = t;
      // Counted from before the request: Redis' timer started no earlier than that.
      validUntil = started + opts.ttlMs;
      opts.onAcquired?.(t);
      return true;
    },
    async renew() {
      if (current === undefined) return false;
      const started = performance.now();
      const ok = Number(await redis.jpLeaseRenew(leaseKey, value(), opts.ttlMs)) === 1;
      if (ok) validUntil = started + opts.ttlMs;
      else lose();
      return ok;
    },
    async fencedSet(key, v) {
      if (current === undefined) return false;
      return Number(await redis.jpFencedSet(fenceKey, key, String(current), v)) === 1;
    },
    start() {
      if (timer || stopped) return;
      const interval = Math.max(10, Math.floor(opts.ttlMs / 3));
      const tick = async (): Promise<void> => {
        try {
          if (current !== undefined && performance.now() >= validUntil) lose();
          if (current !== undefined) await lease.renew();
          else if (!(await lease.tryAcquire()) && othersRemaining !== undefined && othersRemaining > 0 && othersRemaining < interval && !atExpiry && timer) {
            // The holder's lease runs out before the next tick: be there when it does.
            atExpiry = setTimeout(() => {
              atExpiry = undefined;
              if (timer) void tick();
            }, othersRemaining + 2);
          }
        } catch {
          // Redis unreachable: keep the lease only until it would have expired anyway.
          if (current !== undefined && performance.now() >= validUntil) lose();
        }
      };
      timer = setInterval(() => void tick(), interval);
      void tick();
    },
    pause() {
      if (timer) clearInterval(timer);
      if (atExpiry) clearTimeout(atExpiry);
      timer = undefined;
      atExpiry = undefined;
    },
    stop() {
      stopped ??= (async () => {
        lease.pause();
        if (current === undefined) return;
        const v = value();
        current = undefined;
        try {
          await redis.jpLeaseRelease(leaseKey, v);
        } catch {
          /* Redis gone: the lease expires by itself */
        }
      })();
      return stopped;
    },
  };
  return lease;
}
