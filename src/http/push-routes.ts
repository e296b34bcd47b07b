/**
 * `POST /push`: one event or an array of them; 200 only once every event is durable.
 * Served as a raw node:http route (src/http/raw-route.ts): it is the agent's hottest path.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import type { IngestFn } from '../ingest/ingest.js';
import { validatePushBody } from '../ingest/validate.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Auth } from './auth.js';
import { decodeContentEncoding, parseJson, readRequestBody, requireJsonType } from './read-body.js';
import { createRequestIds, sendError, sendJson, type RawContext, type RawRoute } from './raw-route.js';

export interface PushDeps {
  ingest: IngestFn;
  limits: Config['limits'];
  auth: Auth;
  clock: Clock;
  selfMetrics: SelfMetrics;
  logger: Logger;
}

export function createPushRoute(deps: PushDeps): RawRoute {
  const requestId = createRequestIds();
  return (req, res) => {
    const url = req.url ?? '';
    if (!(url === '/push' || url.startsWith('/push?'))) return false;
    const ctx: RawContext = { requestId: requestId(req.headers['x-request-id']), route: '/push', started: performance.now() };
    if (req.method !== 'POST') {
      // The resource exists: a 404 "no route" sent people looking for a typo in the path.
      const error = `method ${req.method ?? ''} not allowed on /push: send events with POST`;
      sendJson(res, ctx, deps, 405, { error, code: 'method_not_allowed', request_id: ctx.requestId }, { Allow: 'POST' });
      return true;
    }
    handle(req, res, ctx).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, ctx, deps, err);
      // An error after the answer started can only come from the socket: nothing to tell.
    });
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: RawContext): Promise<void> {
    deps.auth.check('write', req.headers.authorization);
    requireJsonType(req.headers['content-type']);
    const raw = await readRequestBody(req, deps.limits.max_body_bytes);
    const body = parseJson(decodeContentEncoding(raw, req.headers['content-encoding'], deps.limits.max_body_bytes));
    // Nothing of the parsed body is used after the await: it is not kept alive (and copied by
    // every young-generation GC) while the events wait for their commit.
    const single = !Array.isArray(body);
    const results = await deps.ingest(validatePushBody(body, deps.limits, deps.clock.now()));
    if (single && results.length === 1) sendJson(res, ctx, deps, 200, { accepted: 1, run_id: results[0]?.run_id, results });
    else sendJson(res, ctx, deps, 200, { accepted: results.length, results });
  }
}
