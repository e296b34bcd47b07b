/**
 * The Pushgateway-compatible API:
 *   PUT    /metrics/job/<job>{/<label>/<value>}   replace the group            → 200
 *   POST   /metrics/job/<job>{/<label>/<value>}   replace the pushed names     → 200
 *   DELETE /metrics/job/<job>{/<label>/<value>}   delete the group             → 202
 *   GET    /api/v1/metrics                        groups as JSON (Pushgateway's shape)
 *   PUT    /api/v1/admin/wipe                     delete every group (admin)   → 202
 * Status codes follow the real Pushgateway (checked by the differential test).
 *
 * Every change is durable before the 2xx: a small group writer batches the writes of
 * concurrent requests into one store transaction (like ingest's group commit), and the
 * group becomes visible in memory only after that transaction committed. Requests on
 * one grouping key are serialised by that order: checks run against memory at request
 * time and a key with a write in flight waits for it (see `inflight`).
 */
import { Hono } from 'hono';
import type { Context } from 'hono';
import { StoreUnavailableError, ValidationError } from '../domain/errors.js';
import type { IngestFn } from '../ingest/ingest.js';
import { nameProblem } from '../ingest/validate.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Auth } from '../http/auth.js';
import { streamJsonList } from '../http/json-stream.js';
import { decodeContentEncoding, readBody } from '../http/read-body.js';
import { statusOf } from '../http/errors.js';
import type { Config } from '../config/schema.js';
import type { GroupStore, GroupWrite, StoredGroup } from '../store/store.js';
import { GroupRegistry, InconsistentPushError, exposedLabels } from './group-registry.js';
import { createGroupExposer, goFloat, type GroupExposer } from './group-exposition.js';
import { deriveEvents } from './lifecycle-bridge.js';
import { groupKey, PUSH_FAILURE_TIME_HELP, PUSH_TIME_HELP, type Group, type MetricFamily } from './model.js';
import { encodeFamilies, parseProtobufDelimited } from './parse-protobuf.js';
import { CheckRefusal, ExpositionParseError, expositionText, parseText } from './parse-text.js';
import { parseGroupingPath } from './grouping-path.js';

/**
 * The Pushgateway reads a body as delimited protobuf only when its Content-Type parses with
 * Go's mime.ParseMediaType to application/vnd.google.protobuf with
 * proto=io.prometheus.client.MetricFamily and encoding=delimited (values quoted or not);
 * everything else, a header ParseMediaType refuses included (a parameter without `=`, one
 * given twice, a blank inside an unquoted value), goes to the text parser.
 */
export function isDelimitedProtobuf(contentType: string | undefined): boolean {
  // Every text push passes here: anything that does not even begin with the protobuf type
  // is text whatever its parameters, without parsing them.
  if (!contentType || !/^\s*application\/vnd\.google\.protobuf/i.test(contentType)) return false;
  const parsed = parseMediaType(contentType);
  return (
    parsed !== undefined &&
    parsed.type === 'application/vnd.google.protobuf' &&
    parsed.params.get('encoding') === 'delimited' &&
    parsed.params.get('proto') === 'io.prometheus.client.MetricFamily'
  );
}

/** RFC 2045 token characters (Go's mime isTokenChar): printable ASCII but tspecials. */
const isTokenChar = (c: number): boolean => c > 0x20 && c < 0x7f && !'()<>@,;:\\"/[]?='.includes(String.fromCharCode(c));
const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/** Go's mime.ParseMediaType (as the Pushgateway 1.5.1 was built: a parameter given twice is an error). */
export function parseMediaType(v: string): { type: string; params: Map<string, string> } | undefined {
  let i = 0;
  const n = v.length;
  const skipSpace = (): void => {
    while (i < n && isSpace(v.charCodeAt(i))) i++;
  };
  const token = (): string => {
    const from = i;
    while (i < n && isTokenChar(v.charCodeAt(i))) i++;
    return v.slice(from, i);
  };
  const semi = v.indexOf(';');
  const base = (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
  const slash = base.indexOf('/');
  const tokenOnly = (t: string): boolean => {
    if (t.length === 0) return false;
    for (let k = 0; k < t.length; k++) if (!isTokenChar(t.charCodeAt(k))) return false;
    return true;
  };
  if (slash < 0 ? !tokenOnly(base) : !tokenOnly(base.slice(0, slash)) || !tokenOnly(base.slice(slash + 1))) return undefined;
  const params = new Map<string, string>();
  i = semi < 0 ? n : semi;
  for (;;) {
    skipSpace();
    if (i >= n) break;
    if (v[i] !== ';') return undefined;
    i++;
    skipSpace();
    if (i >= n) break; // a trailing semicolon
    const name = token().toLowerCase();
    if (name === '') return undefined;
    skipSpace();
    if (v[i] !== '=') return undefined;
    i++;
    skipSpace();
    let value = '';
    if (v[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const ch = v[i] as string;
        if (ch === '"') {
          closed = true;
          i++;
          break;
        }
        if (ch === '\\' && i + 1 < n) i++;
        value += v[i];
        i++;
      }
      if (!closed) return undefined;
    } else {
      value = token();
      if (value === '') return undefined;
    }
    if (params.has(name)) return undefined;
    params.set(name, value);
  }
  return { type: base, params };
}

export interface PushgatewayObserver {
  push(method: string, code: number): void;
  expired(n: number): void;
  bridgeFailed(): void;
}

/** One Pushgateway-API request, whichever HTTP layer it came through (Hono or the node:http fast path). */
export interface PushRequest {
  /** The URL path as sent (percent-encoded), without the query. */
  path: string;
  header(name: string): string | undefined;
  /** The body under limits.max_body_bytes. */
  body(): Promise<Uint8Array>;
}

export interface PushgatewayApi {
  routes: Hono;
  /** PUT (replaceAll) / POST, and DELETE, without HTTP: they resolve when durable or throw typed errors. */
  handle: {
    push(req: PushRequest, replaceAll: boolean): Promise<void>;
    delete(req: PushRequest): Promise<void>;
  };
  observer: PushgatewayObserver | undefined;
  exposer: GroupExposer;
  registry: GroupRegistry;
  /** Groups with a lifecycle-bridge entry in memory (bounded by the live groups; tests check it). */
  bridgedGroups(): number;
  /** Loads stored groups (restart). */
  load(): Promise<void>;
  /** Removes expired groups; returns how many. */
  expire(): Promise<number>;
  /** Deletes one group durably, as DELETE on its grouping path does; false if there was none. */
  remove(key: string): Promise<boolean>;
  /**
   * Resolves once every push, delete and group write under way has finished (shutdown: the
   * store must not close under them, even when their clients have gone).
   */
  drain(): Promise<void>;
}

const toStored = (g: Group): StoredGroup => {
  const s: StoredGroup = { group_key: g.key, labels: g.labels, families: encodeFamilies(g.families.values()), push_time: g.push_time, push_failure_time: g.push_failure_time };
  if (g.expires_at !== undefined) s.expires_at = g.expires_at;
  return s;
};

const fromStored = (s: StoredGroup): Group => {
  const families = new Map(parseProtobufDelimited(s.families).map((f) => [f.name, f]));
  const g: Group = { key: s.group_key, labels: s.labels, families, push_time: s.push_time, push_failure_time: s.push_failure_time };
  if (s.expires_at !== undefined) g.expires_at = s.expires_at;
  return g;
};

export function createPushgatewayApi(deps: {
  groups: GroupStore;
  ingest: IngestFn;
  auth: Auth;
  clock: Clock;
  logger: Logger;
  config: Config['pushgateway'];
  limits: Config['limits'];
  observer?: PushgatewayObserver;
  /** Sample and family names the agent exposes itself; asked once, at the first push. */
  reservedNames?: () => ReadonlySet<string>;
}): PushgatewayApi {
  const { clock, logger } = deps;
  let reserved: ReadonlySet<string> | undefined;
  const registry = new GroupRegistry((name) => (reserved ??= deps.reservedNames?.() ?? new Set()).has(name));
  let expiring = false;
  const exposer = createGroupExposer({
    registry,
    beforeRender: () => {
      if (!expiring) void track(expire());
    },
  });

  // --- the group writer: group commit. Writes queued while one is in flight go out together
  // as the next one, so the store sees one transaction per round trip, not one per tick
  // (at 10k groups and 64 connections that was several small transactions per commit).
  let queue: { ops: GroupWrite[]; done: (e?: Error) => void }[] = [];
  let scheduled = false;
  let writing = false;
  const kick = (): void => {
    if (scheduled || writing || queue.length === 0) return;
    scheduled = true;
    // setImmediate lets every request already read off the sockets join this write.
    setImmediate(() => {
      scheduled = false;
      const batch = queue;
      queue = [];
      writing = true;
      deps.groups
        .write(batch.flatMap((b) => b.ops))
        .then(
          () => batch.forEach((b) => b.done()),
          (err: unknown) => {
            logger.error('pushgateway group write failed', { err });
            const e = new StoreUnavailableError(`store unavailable: ${(err as Error).message}`);
            batch.forEach((b) => b.done(e));
          },
        )
        .finally(() => {
          writing = false;
          kick();
        });
    });
  };
  const write = (ops: GroupWrite[]): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queue.push({ ops, done: (e) => (e ? reject(e) : resolve()) });
      kick();
    });

  // Requests on one key run one after the other so a check never races a write in flight.
  const inflight = new Map<string, Promise<unknown>>();
  const serial = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = inflight.get(key);
    const p = (prev ?? Promise.resolve()).then(fn, fn);
    const tail = p.catch(() => undefined);
    inflight.set(key, tail);
    try {
      return await p;
    } finally {
      if (inflight.get(key) === tail) inflight.delete(key);
    }
  };

  /** Event ids last handed to ingest per group, to skip a bridge round trip that would only find duplicates. */
  const bridged = new Map<string, string>();
  /**
   * A group gone from memory, however it went (expired, deleted here or on another replica):
   * its bridge entry goes too. Expiry kept them, one per group for good: with a TTL and an
   * instance label per pod, the map grew with every pod that ever pushed.
   */
  const forget = (key: string): void => {
    registry.delete(key);
    bridged.delete(key);
  };

  const ttlOf = (job: string): number => deps.config.job_ttl[job] ?? deps.config.group_ttl;

  async function expire(): Promise<number> {
    const now = clock.now();
    const dead: Group[] = [];
    // A group with a push or delete under way is left to it: its write may already be queued
    // ahead of ours, and a re-push deleted behind it in the store stayed visible in memory
    // (the 200 was lost at the next restart). If that push fails, the next expiry takes it.
    for (const g of registry.all()) if (g.expires_at !== undefined && g.expires_at <= now && !inflight.has(g.key)) dead.push(g);
    if (dead.length === 0) return 0;
    expiring = true;
    try {
      for (const g of dead) forget(g.key);
      deps.observer?.expired(dead.length);
      await write(dead.map((g) => ({ delete: g.key })));
    } catch (err) {
      logger.warn('could not delete expired groups from the store; they stay hidden', { err });
    } finally {
      expiring = false;
    }
    return dead.length;
  }

  async function readFamilies(req: PushRequest): Promise<MetricFamily[]> {
    // As the Pushgateway: only `Content-Encoding: gzip` exactly is decompressed, any other
    // body is read as it came (so a deflate body fails to parse, as it does there).
    // Decompressed, a push may be 8× the body limit: text exposition compresses well.
    const raw = await req.body();
    const bytes = req.header('content-encoding') === 'gzip' ? decodeContentEncoding(raw, 'gzip', deps.limits.max_body_bytes * 8) : raw;
    if (isDelimitedProtobuf(req.header('content-type'))) return parseProtobufDelimited(bytes);
    // Anything else is the text format, whatever the type says (the Pushgateway's fallback).
    return parseText(expositionText(bytes));
  }

  const fromHono = (c: Context): PushRequest => ({
    path: new URL(c.req.url).pathname,
    header: (name) => c.req.header(name),
    body: () => readBody(c, deps.limits.max_body_bytes),
  });

  /** Operations under way, for drain(). */
  const underWay = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    underWay.add(p);
    const done = (): void => void underWay.delete(p);
    p.then(done, done);
    return p;
  };

  async function push(req: PushRequest, replaceAll: boolean): Promise<void> {
    const labels = parseGroupingPath(req.path);
    const key = groupKey(labels);
    let families: MetricFamily[];
    let refusal: CheckRefusal | undefined;
    try {
      families = await readFamilies(req);
    } catch (err) {
      if (err instanceof CheckRefusal) {
        refusal = err;
        families = [];
      } else if (err instanceof ExpositionParseError) throw new ValidationError([{ path: 'body', message: err.message }], err.message);
      else throw err;
    }
    const group = await serial(key, async () => {
      const now = clock.now();
      try {
        if (refusal) throw new InconsistentPushError(refusal.message);
        const ttl = ttlOf(labels.job as string);
        const { group: next } = registry.prepare({ key, labels, families, replaceAll, now, ...(ttl > 0 ? { expiresAt: now + ttl } : {}) });
        try {
          await write([{ put: toStored(next) }]);
        } catch (err) {
          registry.abort(next);
          throw err;
        }
        registry.commit(next);
        return next;
      } catch (err) {
        if (!(err instanceof InconsistentPushError)) throw err;
        // A refused change is recorded on the group, as the Pushgateway does (push_failure_time_seconds).
        const failed = registry.failed(key, labels, now);
        await write([{ put: toStored(failed) }]);
        registry.commit(failed);
        throw new ValidationError([{ path: 'body', message: err.message }], err.message);
      }
    });
    if (deps.config.lifecycle_bridge) {
      const drafts = deriveEvents(group);
      // Most re-pushes carry the same batch-job values: the same event ids, already ingested.
      const ids = drafts.map((d) => d.event_id).join('\n');
      if (drafts.length > 0 && bridged.get(key) !== ids) {
        bridged.set(key, ids);
        // Grouping label values may hold anything (a newline, thousands of characters); a job
        // name made of them follows the rule of every other way in, or the group gets no runs.
        const problem = nameProblem(drafts[0]?.job_name ?? '', deps.limits.max_job_name_length);
        if (problem !== undefined) {
          deps.observer?.bridgeFailed();
          logger.warn('lifecycle bridge: job name refused; the push is kept without runs', { group: key, problem });
          return;
        }
        try {
          await deps.ingest(drafts, { results: false });
        } catch (err) {
          // The push itself is stored; a bridge failure (e.g. the job limit) must not refuse it.
          bridged.delete(key);
          deps.observer?.bridgeFailed();
          logger.warn('lifecycle bridge: events not ingested', { err, job_name: drafts[0]?.job_name });
        }
      }
    }
  }

  async function del(req: PushRequest): Promise<void> {
    const labels = parseGroupingPath(req.path);
    const key = groupKey(labels);
    await serial(key, async () => {
      // On a shared store another replica may hold a group this one has not seen yet: delete anyway.
      if (!registry.get(key) && !deps.groups.follow) return;
      await write([{ delete: key }]);
      forget(key);
    });
  }

  const routes = new Hono();
  const counted = (method: string, status: 200 | 202, fn: (req: PushRequest) => Promise<void>) => async (c: Context) => {
    try {
      await fn(fromHono(c));
    } catch (err) {
      deps.observer?.push(method, statusOf(err));
      throw err;
    }
    deps.observer?.push(method, status);
    return c.body(null, status);
  };
  // Tracked for drain(), like every way in: the Hono routes, the node:http fast path (`handle`).
  const handle: PushgatewayApi['handle'] = { push: (req, replaceAll) => track(push(req, replaceAll)), delete: (req) => track(del(req)) };
  const put = counted('PUT', 200, (req) => handle.push(req, true));
  const post = counted('POST', 200, (req) => handle.push(req, false));
  routes.put('/metrics/job/*', deps.auth.require('write'), put);
  routes.put('/metrics/job@base64/*', deps.auth.require('write'), put);
  routes.post('/metrics/job/*', deps.auth.require('write'), post);
  routes.post('/metrics/job@base64/*', deps.auth.require('write'), post);
  const del202 = counted('DELETE', 202, handle.delete);
  routes.delete('/metrics/job/*', deps.auth.require('write'), del202);
  routes.delete('/metrics/job@base64/*', deps.auth.require('write'), del202);

  // The Pushgateway's router answers other methods on a push path with 405 (OPTIONS: 200).
  const notAllowed = (c: Context): Response => {
    c.header('Allow', 'PUT, POST, DELETE, OPTIONS');
    if (c.req.method === 'OPTIONS') return c.body(null, 200);
    return c.json({ error: `method ${c.req.method} not allowed on a push path (PUT, POST or DELETE)`, code: 'method_not_allowed' }, 405);
  };
  routes.on(['GET', 'HEAD', 'PATCH', 'OPTIONS'], ['/metrics/job/*', '/metrics/job@base64/*'], notAllowed);

  routes.put('/api/v1/admin/wipe', deps.auth.require('admin'), async (c) => {
    await write([{ wipe: true }]);
    const n = registry.clear();
    bridged.clear();
    logger.info('pushgateway groups wiped', { groups: n });
    return c.body(null, 202);
  });

  routes.get('/api/v1/metrics', deps.auth.require('read'), async (c) => {
    await expire();
    const iso = (ms: number): string => new Date(ms).toISOString();
    // Streamed, a chunk of groups at a time (json-stream.ts): at 10k groups this is ~9 MB.
    const groupJson = (g: Group): Record<string, unknown> => {
      const entry: Record<string, unknown> = { labels: g.labels };
      const ts = iso(g.push_time || g.push_failure_time);
      for (const f of g.families.values()) {
        entry[f.name] = {
          time_stamp: ts,
          type: f.type.toUpperCase(),
          ...(f.help !== undefined ? { help: f.help } : {}),
          metrics: f.metrics.map((m) => {
            const labels = exposedLabels(g, m);
            if (f.type === 'histogram')
              return { labels, buckets: Object.fromEntries((m.buckets ?? []).map(([le, n]) => [goFloat(le), goFloat(n)])), count: goFloat(m.count ?? 0), sum: goFloat(m.sum ?? 0) };
            if (f.type === 'summary') return { labels, quantiles: Object.fromEntries((m.quantiles ?? []).map(([q, v]) => [goFloat(q), goFloat(v)])), count: goFloat(m.count ?? 0), sum: goFloat(m.sum ?? 0) };
            return { labels, value: goFloat(m.value ?? 0) };
          }),
        };
      }
      const own = exposedLabels(g, { labels: {} });
      entry.push_time_seconds = { time_stamp: ts, type: 'GAUGE', help: PUSH_TIME_HELP, metrics: [{ labels: own, value: goFloat(g.push_time / 1000) }] };
      // Its own time: the Pushgateway stamps this family when a change failed.
      entry.push_failure_time_seconds = { time_stamp: g.push_failure_time > g.push_time ? iso(g.push_failure_time) : ts, type: 'GAUGE', help: PUSH_FAILURE_TIME_HELP, metrics: [{ labels: own, value: goFloat(g.push_failure_time / 1000) }] };
      entry.last_push_successful = g.push_time >= g.push_failure_time;
      return entry;
    };
    c.header('Content-Type', 'application/json');
    return c.body(streamJsonList('data', [...registry.all()], groupJson, { head: { status: 'success' } }));
  });

  return {
    routes,
    handle,
    observer: deps.observer,
    exposer,
    registry,
    async load() {
      for (const s of await deps.groups.load()) registry.commit(fromStored(s));
      // Shared store (Redis): install what any replica writes, so all of them serve the same groups.
      deps.groups.follow?.((c) => {
        if (c.reset) {
          registry.clear();
          bridged.clear();
        }
        for (const k of c.removed) forget(k);
        for (const s of c.upserts) registry.commit(fromStored(s));
      });
    },
    expire: () => track(expire()),
    bridgedGroups: () => bridged.size,
    remove: (key) =>
      track(
        serial(key, async () => {
          if (!registry.get(key)) return false;
          await write([{ delete: key }]);
          forget(key);
          return true;
        }),
      ),
    async drain() {
      while (underWay.size > 0 || writing || queue.length > 0) {
        if (underWay.size > 0) await Promise.allSettled([...underWay]);
        else await new Promise((r) => setImmediate(r));
      }
    },
  };
}
