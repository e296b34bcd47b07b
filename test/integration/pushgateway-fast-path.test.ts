/**
 * The node:http fast path for Pushgateway-API writes (src/pushgateway/fast-path.ts) answers
 * exactly as the Hono routes it bypasses: the same script goes to one agent over HTTP
 * (fast path) and to another through `app.request` (Hono only); statuses, error bodies,
 * the headers clients act on, and the resulting exposition must be identical.
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const TOKEN = 'fast-path-token';
const auth = { authorization: `Bearer ${TOKEN}` };

type Step = [method: string, path: string, body?: string | Uint8Array, headers?: Record<string, string>];

const SCRIPT: Step[] = [
  ['PUT', '/metrics/job/a/instance/i1', '# TYPE x counter\nx 1\ny{k="v"} 2\n', auth],
  ['POST', '/metrics/job/a/instance/i1', 'y{k="w"} 3\n', auth],
  ['PUT', '/metrics/job/b', '# TYPE x gauge\nx 1\n', auth], // 400: type conflict
  ['PUT', '/metrics/job/c', 'x 1 1234\n', auth], // 400: timestamp
  ['PUT', '/metrics/job/d', 'x{ 1\n', auth], // 400: syntax
  ['PUT', '/metrics/job/e/odd', 'z 1\n', auth], // 400: odd path
  ['PUT', '/metrics/job/f', 'z 1\n'], // 401: no token
  ['PUT', '/metrics/job/f', 'z 1\n', { authorization: 'Bearer wrong' }], // 401
  // As the Pushgateway: only `gzip` is decompressed, and protobuf needs both its parameters;
  // any other body is read as text (here: valid text).
  ['PUT', '/metrics/job/g', 'z 1\n', { ...auth, 'content-encoding': 'br' }], // 200
  ['PUT', '/metrics/job/h', 'z 1\n', { ...auth, 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily' }], // 200
  ['PUT', '/metrics/job/i', `big ${'9'.repeat(5000)}\n`, { ...auth, 'content-length': '5005' }], // 413 (limit below); app.request sends no length by itself
  ['PUT', '/metrics/job/j', gzipSync('gz 1\n'), { ...auth, 'content-encoding': 'gzip' }],
  ['PUT', '/metrics/job/k', gzipSync('gz 1\n').subarray(0, 8), { ...auth, 'content-encoding': 'gzip' }], // 400: bad gzip
  ['PUT', '/metrics/job@base64/L3Zhci90bXA/path@base64/=', 'e 1\n', auth],
  ['DELETE', '/metrics/job/b', undefined, auth],
  ['DELETE', '/metrics/job/never', undefined, auth],
  ['DELETE', '/metrics/job/a/instance/i1', undefined, {}], // 401
  ['DELETE', '/metrics/job/j', undefined, auth],
];

const pushedLines = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l !== '' && !/^(# (HELP|TYPE) )?(jobpulse_|job_|process_|nodejs_)/.test(l))
    .map((l) => l.replace(/^(push_(?:failure_)?time_seconds\{[^}]*\}) (.+)$/, (_m, s: string, v: string) => `${s} ${v === '0' ? 'unset' : 'set'}`));

describe('Pushgateway-API fast path vs the Hono routes', () => {
  let fast: TestAgent;
  let hono: TestAgent;
  const config = { auth: { write_tokens: [TOKEN] }, limits: { max_body_bytes: 4096 }, pushgateway: { lifecycle_bridge: false } };
  beforeAll(async () => {
    fast = await startAgent({ config });
    hono = await startAgent({ config });
  });
  afterAll(async () => {
    await fast?.stop();
    await hono?.stop();
  });

  it('leaves a path with a "." or ".." segment to Hono, which refuses it as every route does', async () => {
    // node:http sends the path as written; fetch() would resolve the segments (even %2E) first.
    const put = (path: string) =>
      new Promise<{ status: number; requestId: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: fast.port, path, method: 'PUT', headers: auth }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id']), body }));
        });
        req.on('error', reject);
        req.end('dot 1\n');
      });
    for (const path of ['/metrics/job/a/../l', '/metrics/job/%2E%2E', '/metrics/job/j/i/%2e', '/metrics/job/j/./x/y']) {
      const res = await put(path);
      expect(res.status, path).toBe(400);
      expect(res.requestId, path).not.toMatch(/-pg-/);
      expect(res.body, path).toMatch(/path segment is refused/);
    }
    expect((await fast.get('/metrics')).text).not.toMatch(/^dot/m);
  });

  it('gives the same statuses, error bodies, headers and exposition', async () => {
    const statuses: number[] = [];
    for (const [method, path, body, headers] of SCRIPT) {
      const init = { method, body, headers: headers ?? {} };
      const a = await fetch(`${fast.url}${path}`, init);
      const b = await hono.agent.app.request(path, init);
      const [ta, tb] = [await a.text(), await b.text()];
      const what = `${method} ${path}`;
      expect(a.status, what).toBe(b.status);
      statuses.push(a.status);
      // Served by the fast path indeed (its request ids are marked), and Hono answered the other.
      expect(a.headers.get('x-request-id'), what).toMatch(/-pg-/);
      expect(b.headers.get('x-request-id'), what).not.toMatch(/-pg-/);
      for (const h of ['content-type', 'www-authenticate', 'retry-after']) expect(a.headers.get(h), `${what} ${h}`).toBe(b.headers.get(h));
      const strip = (t: string): unknown => (t === '' ? '' : { ...(JSON.parse(t) as object), request_id: undefined });
      expect(strip(ta), what).toEqual(strip(tb));
    }
    expect(statuses).toEqual([200, 200, 400, 400, 400, 400, 401, 401, 200, 200, 413, 200, 400, 200, 202, 202, 401, 202]);
    expect(pushedLines((await fast.get('/metrics')).text)).toEqual(pushedLines((await hono.get('/metrics')).text));
  });

  it('counts fast-path requests in the same HTTP and Pushgateway metrics, under the Hono route labels', async () => {
    const text = (await fast.get('/metrics')).text;
    expect(text).toMatch(/jobpulse_http_requests_total\{[^}]*route="\/metrics\/job\/\*"[^}]*\} \d+/);
    expect(text).toMatch(/jobpulse_pushgateway_requests_total\{method="PUT",code="400"\} 5/);
  });
});
