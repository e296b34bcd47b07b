/**
 * Builds the Hono app (never listens: main/agent do). Routes come from factories that
 * take their dependencies; extra routes and exposition sections come from sources
 * added by later capabilities (Pushgateway API, ping URLs, status page).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { acceptsGzip, gzipParts, inflated, plainLength, type BodyPart } from '../metrics/deflate-parts.js';
import type { ExpositionFormat } from '../metrics/exposition-format.js';
import { CONTENT_TYPES, negotiateFormat } from '../metrics/exposition-format.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Logger } from '../runtime/logger.js';
import type { Auth } from './auth.js';
import { errorResponse } from './errors.js';
import { createRequestIds } from './raw-route.js';

export interface Exposer {
  /** A section of /metrics; Buffers and deflated parts handed out here must never be modified afterwards. */
  render(format: ExpositionFormat): string | Buffer | readonly BodyPart[];
}

export interface ReadinessCheck {
  name: string;
  check(): Promise<{ ok: boolean; detail?: string }>;
}

export interface AppDeps {
  logger: Logger;
  auth: Auth;
  selfMetrics: SelfMetrics;
  exposers: Exposer[];
  readiness: ReadinessCheck[];
  routes: Hono[];
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  const requestIds = createRequestIds();

  app.use('*', async (c, next) => {
    const requestId = requestIds(c.req.header('x-request-id'));
    c.set('requestId' as never, requestId as never);
    const t0 = performance.now();
    await next();
    c.header('X-Request-Id', requestId);
    const route = routeOf(c);
    deps.selfMetrics.http(c.req.method, route, c.res.status, (performance.now() - t0) / 1000);
    deps.logger.debug('request', { request_id: requestId, method: c.req.method, route, status: c.res.status });
  });

  // The web Request resolves "." and ".." segments (%2E too) before routing: /ping/%2E/fail
  // pinged the job "fail", and /api/v1/jobs/%2E%2E answered "no route for GET /api/v1/".
  // Refused as written instead, naming the reason (job names "." and ".." are refused too).
  app.use('*', async (c, next) => {
    const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.url;
    if (raw !== undefined && DOT_SEGMENT.test(raw.split('?', 1)[0] as string)) {
      const message = 'a "." or ".." path segment is refused: the URL would resolve it away and reach another route (job names "." and ".." are not allowed)';
      throw new ValidationError([{ path: 'url', message }], message);
    }
    await next();
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  const readiness = async (): Promise<{ ready: boolean; checks: { name: string; ok: boolean; detail?: string }[] }> => {
    const checks = await Promise.all(
      deps.readiness.map(async (r) => {
        try {
          return { name: r.name, ...(await r.check()) };
        } catch (err) {
          return { name: r.name, ok: false, detail: (err as Error).message };
        }
      }),
    );
    return { ready: checks.every((x) => x.ok), checks };
  };
  app.get('/readyz', async (c) => {
    const { ready, checks } = await readiness();
    return c.json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503);
  });
  // The Pushgateway's own probe paths, as its Helm chart and existing probes call them: the
  // same answers as /healthz and /readyz, with the Pushgateway's plain "OK" body when well.
  app.get('/-/healthy', (c) => c.text('OK'));
  app.get('/-/ready', async (c) => {
    const { ready, checks } = await readiness();
    return ready ? c.text('OK') : c.json({ status: 'not ready', checks }, 503);
  });

  app.get('/metrics', deps.auth.require('read'), async (c) => {
    const format = negotiateFormat(c.req.header('accept'));
    // Exposers render first: self metrics (e.g. jobpulse_jobs) read what this render counted.
    const sections = deps.exposers.map((e) => e.render(format));
    const self = await deps.selfMetrics.render(format);
    const parts: BodyPart[] = [Buffer.from(self)];
    for (const section of sections) {
      if (typeof section === 'string') parts.push(Buffer.from(section));
      else if (Buffer.isBuffer(section)) parts.push(section);
      else for (const p of section) parts.push(p);
    }
    if (format === 'openmetrics') parts.push(Buffer.from('# EOF\n'));
    const headers: Record<string, string> = { 'Content-Type': CONTENT_TYPES[format], Vary: 'Accept-Encoding', 'X-Request-Id': c.get('requestId' as never) as string };
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    if (acceptsGzip(c.req.header('accept-encoding'))) {
      // What Prometheus asks for: the cached parts go out compressed as they are.
      const chunks = gzipParts(parts);
      let length = 0;
      for (const b of chunks) length += b.length;
      headers['Content-Encoding'] = 'gzip';
      headers['Content-Length'] = String(length);
      if (!outgoing) return c.body(Buffer.concat(chunks, length), 200, headers);
      // Behind @hono/node-server: the Buffers go to the socket as they are, in one corked
      // writev (at 10k jobs a Buffer.concat of the text body cost 309 ms of CPU per scrape,
      // a pulled ReadableStream 160 ms, this 92 ms).
      outgoing.writeHead(200, headers);
      outgoing.cork();
      for (const b of chunks) outgoing.write(b);
      outgoing.uncork();
      outgoing.end();
      return RESPONSE_ALREADY_SENT;
    }
    headers['Content-Length'] = String(plainLength(parts));
    if (!outgoing) return c.body(Buffer.concat(parts.map(inflated)), 200, headers);
    // Part by part, as the socket takes them: each inflate is a few hundred µs on the event
    // loop, and the whole text is never in memory at once. Measured at 10k jobs: 60–125 ms
    // per scrape through a zlib stream on the thread pool, 40–90 ms this way.
    outgoing.writeHead(200, headers);
    let next = 0;
    const pump = (): void => {
      while (next < parts.length) {
        const b = inflated(parts[next++] as BodyPart);
        if (b.length > 0 && !outgoing.write(b)) {
          outgoing.once('drain', pump);
          return;
        }
      }
      outgoing.end();
    };
    pump();
    return RESPONSE_ALREADY_SENT;
  });

  for (const r of deps.routes) app.route('/', r);

  app.notFound((c) => errorResponse(c, new NotFoundError(`no route for ${c.req.method} ${c.req.path}`), deps.logger));
  app.onError((err, c) => errorResponse(c, err, deps.logger));
  return app;
}

/** A "." or ".." path segment, percent-encoded or not (the fast paths leave such requests to the check above). */
export const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/** The matched handler's route pattern (bounded label values), not the raw path. */
const routeOf = (c: Context): string => {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return routes[routes.length - 1]?.path ?? 'unmatched';
};
