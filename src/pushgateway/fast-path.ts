/**
 * A plain node:http handler for the Pushgateway API's write routes (PUT/POST/DELETE under
 * /metrics/job/ and /metrics/job@base64/), in front of Hono.
 *
 * Why: these are the routes batch jobs hit hardest, and per request @hono/node-server
 * builds a web Request, a Response, header objects and a middleware chain; profiled at 10k
 * groups that was about a quarter of a push's CPU and a large share of its garbage. The fast
 * path does the same work as the Hono routes with none of those objects: the same handler
 * (`api.handle`), the same auth check (`auth.check`), the same body limit
 * (`readRequestBody`), the same error mapping (`describeError`), the same request log line,
 * X-Request-Id and `jobpulse_http_*` metrics with the same route labels. Anything else
 * (other methods, other paths) returns false and goes to Hono.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Auth } from '../http/auth.js';
import { DOT_SEGMENT } from '../http/create-app.js';
import { describeError, statusOf } from '../http/errors.js';
import { readRequestBody } from '../http/read-body.js';
import type { SelfMetrics } from '../metrics/self-metrics.js';
import type { Logger } from '../runtime/logger.js';
import type { PushgatewayApi, PushRequest } from './pushgateway-api.js';

export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

const STATUS: Record<string, 200 | 202> = { PUT: 200, POST: 200, DELETE: 202 };

export function createPushgatewayFastPath(deps: { api: Pick<PushgatewayApi, 'handle' | 'observer'>; auth: Auth; logger: Logger; selfMetrics: Pick<SelfMetrics, 'http'>; maxBodyBytes: number }): FastPath {
  const prefix = `${Math.random().toString(36).slice(2, 8)}-pg`;
  let seq = 0;

  return (req, res) => {
    const method = req.method ?? '';
    const ok = STATUS[method];
    if (ok === undefined) return false;
    const url = req.url ?? '';
    let route: string;
    if (url.startsWith('/metrics/job/')) route = '/metrics/job/*';
    else if (url.startsWith('/metrics/job@base64/')) route = '/metrics/job@base64/*';
    else return false;
    // A "." or ".." segment (%2E too) goes to Hono, which refuses it as every route does.
    if (DOT_SEGMENT.test(url.split('?', 1)[0] as string)) return false;
    // The same path Hono's routes see: as the WHATWG URL parser gives it, still percent-encoded.
    const path = url.includes('?') || url.includes('#') || url.includes('\\') ? new URL(url, 'http://localhost').pathname : url;
    if (!path.startsWith('/metrics/job/') && !path.startsWith('/metrics/job@base64/')) return false;

    const t0 = performance.now();
    const header = req.headers['x-request-id'];
    const requestId = typeof header === 'string' ? header : `${prefix}-${(++seq).toString(36)}`;
    const push: PushRequest = {
      path,
      header: (name) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(', ') : v;
      },
      body: () => readRequestBody(req, deps.maxBodyBytes),
    };

    const finish = (status: number, body: string | undefined, headers: Record<string, string>): void => {
      headers['X-Request-Id'] = requestId;
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(body));
        // An empty answer with a length, as the Pushgateway sends it: no chunked terminator to write.
      } else headers['Content-Length'] = '0';
      res.writeHead(status, headers);
      res.end(body);
      deps.selfMetrics.http(method, route, status, (performance.now() - t0) / 1000);
      deps.logger.debug('request', { request_id: requestId, method, route, status });
    };

    const run = async (): Promise<void> => {
      deps.auth.check('write', req.headers.authorization);
      try {
        if (method === 'DELETE') await deps.api.handle.delete(push);
        else await deps.api.handle.push(push, method === 'PUT');
      } catch (err) {
        deps.api.observer?.push(method, statusOf(err));
        throw err;
      }
      deps.api.observer?.push(method, ok);
    };

    run().then(
      () => finish(ok, undefined, {}),
      (err: unknown) => {
        const d = describeError(err, requestId, { method, path }, deps.logger);
        if (!res.headersSent) finish(d.status, JSON.stringify(d.body), d.headers);
        // An unread request body (refused before reading) must not be parsed as the next request.
        if (!req.complete) req.resume();
      },
    );
    return true;
  };
}
