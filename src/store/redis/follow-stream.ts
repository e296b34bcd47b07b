/**
 * Tails a Redis change stream on a connection of its own (XREAD BLOCK holds it). Each
 * batch of entries goes to `handle`; the read position moves past them only once
 * `handle` resolves, so a failed re-read (Redis flapping) reads the same entries again.
 * Errors are reported and retried after a pause until `closed()` says stop.
 */
import type { Redis } from 'ioredis';

export type StreamEntry = Record<string, string>;

export function followStream(opts: {
  redis: Redis;
  stream: string;
  from: string;
  closed: () => boolean;
  handle: (entries: StreamEntry[]) => Promise<void>;
  onError?: (err: unknown) => void;
}): Redis {
  const sub = opts.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, lazyConnect: false });
  sub.on('error', () => undefined);
  let last = opts.from;
  void (async () => {
    while (!opts.closed()) {
      try {
        const res = await sub.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', opts.stream, last);
        if (!res) continue;
        const entries: StreamEntry[] = [];
        let next = last;
        for (const [, batch] of res) {
          for (const [id, fields] of batch) {
            next = id;
            const e: StreamEntry = {};
            for (let i = 0; i + 1 < fields.length; i += 2) e[fields[i] as string] = fields[i + 1] as string;
            entries.push(e);
          }
        }
        await opts.handle(entries);
        last = next;
      } catch (err) {
        if (opts.closed()) break;
        opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  })();
  return sub;
}
