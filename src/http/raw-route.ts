/**
 * Routes served straight on node:http, in front of the Hono app, for hot paths whose
 * cost per request matters more than routing convenience. Hono through
 * @hono/node-server builds a web Request and Response per request; on a single-event
 * push that was about half the CPU of the whole request. A raw route claims a request
 * by returning true and must then answer it; everything else falls through to Hono.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Logger } from '../runtime/logger.js';
import { describeError } from './errors.js';

export type RawRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Request ids: the client's X-Request-Id, else a short per-process prefix and a counter. */
export function createRequestIds(): (header: string | string[] | undefined) => string {
  const prefix = Math.random().toString(36).slice(2, 8);
  let seq = 0;
  return (header) => (typeof header === 'string' && header !== '' ? header : `${prefix}-${(++seq).toString(36)}`);
}

export interface RawContext {
  requestId: string;
  route: string;
  started: number;
}

/** Writes a JSON answer and records the request like the Hono middleware does. */
export function sendJson(
  res: ServerResponse,
  ctx: RawContext,
  deps: { selfMetrics: SelfMetrics },
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    'X-Request-Id': ctx.requestId,
    ...headers,
  });
  res.end(payload);
  deps.selfMetrics.http(res.req?.method ?? 'POST', ctx.route, status, (performance.now() - ctx.started) / 1000);
}

/** Answers an error with the same JSON shape and headers as every other route. */
export function sendError(res: ServerResponse, ctx: RawContext, deps: { selfMetrics: SelfMetrics; logger: Logger }, err: unknown): void {
  const req = res.req;
  const r = describeError(err, ctx.requestId, { method: req?.method ?? '', path: ctx.route }, deps.logger);
  sendJson(res, ctx, deps, r.status, r.body, r.headers);
}
