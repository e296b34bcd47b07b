/**
 * Pushgateway groups on the shared Redis store, so every replica serves the same groups.
 *
 * - `pg:group` hash: group_key → JSON { labels, push_time, push_failure_time, expires_at,
 *   families (base64 of the delimited protobuf bytes) }.
 * - `write(ops)` is one MULTI/EXEC: the puts/deletes/wipe in order plus one entry on the
 *   `pg:changes` stream naming the keys it touched. It resolves after Redis ran it, so a
 *   push is as durable as an event commit (the AOF setting decides, README "Scale-out").
 * - `follow` tails `pg:changes` from the position read before `load`, re-reads the
 *   current value of every key an entry names and hands it over (absent = removed); a
 *   wipe entry hands over everything (`reset`). Entries this replica wrote are followed
 *   too: re-reading the current value after every entry, in stream order, means a
 *   replica's in-memory groups always end on the last committed value, even when its own
 *   write and another replica's to the same key cross.
 */
import type { Redis } from 'ioredis';
import type { GroupChange, GroupStore, GroupWrite, StoredGroup } from '../store.js';
import { followStream } from './follow-stream.js';

interface Encoded {
  labels: Record<string, string>;
  push_time: number;
  push_failure_time: number;
  expires_at?: number;
  families: string;
}

const encode = (g: StoredGroup): string =>
  JSON.stringify({
    labels: g.labels,
    push_time: g.push_time,
    push_failure_time: g.push_failure_time,
    ...(g.expires_at !== undefined ? { expires_at: g.expires_at } : {}),
    families: Buffer.from(g.families.buffer, g.families.byteOffset, g.families.byteLength).toString('base64'),
  } satisfies Encoded);

const decode = (key: string, s: string): StoredGroup => {
  const e = JSON.parse(s) as Encoded;
  const g: StoredGroup = { group_key: key, labels: e.labels, families: new Uint8Array(Buffer.from(e.families, 'base64')), push_time: e.push_time, push_failure_time: e.push_failure_time };
  if (e.expires_at !== undefined) g.expires_at = e.expires_at;
  return g;
};

export interface RedisGroupStore extends GroupStore {
  close(): void;
}

export function createRedisGroups(opts: { redis: Redis; prefix: string; maxLen: string; onFollowError?: (err: unknown) => void }): RedisGroupStore {
  const { redis } = opts;
  const hash = `${opts.prefix}pg:group`;
  const stream = `${opts.prefix}pg:changes`;
  let from = '$';
  let closed = false;
  let follower: Redis | undefined;

  const readAll = async (): Promise<StoredGroup[]> => Object.entries(await redis.hgetall(hash)).map(([k, v]) => decode(k, v));

  return {
    async load() {
      const last = await redis.xrevrange(stream, '+', '-', 'COUNT', 1);
      from = last[0]?.[0] ?? '0-0';
      return readAll();
    },

    async write(ops: GroupWrite[]) {
      if (ops.length === 0) return;
      const tx = redis.multi();
      const keys: string[] = [];
      let wipe = false;
      for (const op of ops) {
        if ('put' in op) {
          tx.hset(hash, op.put.group_key, encode(op.put));
          keys.push(op.put.group_key);
        } else if ('delete' in op) {
          tx.hdel(hash, op.delete);
          keys.push(op.delete);
        } else {
          tx.del(hash);
          wipe = true;
        }
      }
      tx.xadd(stream, 'MAXLEN', '~', opts.maxLen, '*', 'keys', JSON.stringify([...new Set(keys)]), 'wipe', wipe ? '1' : '0');
      const res = await tx.exec();
      if (!res) throw new Error('group write aborted');
      for (const [err] of res) if (err) throw err;
    },

    follow(onChange: (c: GroupChange) => void) {
      if (follower) throw new Error('already following');
      follower = followStream({
        redis,
        stream,
        from,
        closed: () => closed,
        ...(opts.onFollowError ? { onError: opts.onFollowError } : {}),
        async handle(entries) {
          const keys = new Set<string>();
          let reset = false;
          for (const e of entries) {
            if (e.wipe === '1') reset = true;
            if (e.keys !== undefined) for (const k of JSON.parse(e.keys) as string[]) keys.add(k);
          }
          if (reset) {
            onChange({ reset: true, upserts: await readAll(), removed: [] });
            return;
          }
          if (keys.size === 0) return;
          const ks = [...keys];
          const vals = await redis.hmget(hash, ...ks);
          const upserts: StoredGroup[] = [];
          const removed: string[] = [];
          vals.forEach((v, i) => (v === null ? removed.push(ks[i] as string) : upserts.push(decode(ks[i] as string, v))));
          onChange({ upserts, removed });
        },
      });
    },

    close() {
      closed = true;
      follower?.disconnect();
    },
  };
}
