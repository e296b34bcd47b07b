/**
 * The same pushes, deletes and bad pushes sent to the real Pushgateway and to jobpulse:
 * same status codes, and the same samples for the pushed groups (push times are compared
 * as set/unset, since the two receive each push at slightly different moments).
 * Deliberate differences (README "Pushgateway compatibility") are left out of the script.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProtobufDelimited, PROTOBUF_CONTENT_TYPE } from '../../src/pushgateway/parse-protobuf.js';
import { goProtobufFixtures } from '../support/go-protobuf-fixtures.js';
import { hasBinary } from '../support/require-binary.js';
import { startPushgateway, type RealPushgateway } from '../support/start-pushgateway.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

const has = hasBinary('prometheus-pushgateway', 'prometheus-pushgateway');

type Step = [method: string, path: string, body?: string | Uint8Array, headers?: Record<string, string>];

const pb = encodeProtobufDelimited([
  { name: 'pb_total', help: 'from protobuf', type: 0, metric: [{ label: [{ name: 'k', value: 'v' }], counter: { value: 7 } }] },
  { name: 'pb_summary', type: 2, metric: [{ summary: { sample_count: 3, sample_sum: 4.5, quantile: [{ quantile: 0.5, value: 1.5 }] } }] },
]);

/** A label value of bytes that are not UTF-8, in protobuf (a string field on the wire). */
const pbNotUtf8 = (() => {
  const good = encodeProtobufDelimited([{ name: 'pb_bad', type: 1, metric: [{ label: [{ name: 'k', value: 'AB' }], gauge: { value: 1 } }] }]);
  const bytes = Buffer.from(good);
  const at = bytes.indexOf('AB');
  bytes[at] = 0xff;
  bytes[at + 1] = 0xfe;
  return bytes;
})();
const notUtf8 = (head: string, tail: string): Uint8Array => Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)]);

const SCRIPT: Step[] = [
  ['PUT', '/metrics/job/j1/instance/i1', '# TYPE a counter\na 1\nb{x="y"} 2\n'],
  ['POST', '/metrics/job/j1/instance/i1', 'b{x="z"} 3\n'],
  ['PUT', '/metrics/job/j2', '# TYPE a gauge\na 1\n'],
  ['PUT', '/metrics/job/j3', 'c{job="other"} 1\n'],
  ['PUT', '/metrics/job/j3b/instance/y', 'c2{instance="x"} 1\n'],
  ['PUT', '/metrics/job/j4', 'd 1 1234\n'],
  ['PUT', '/metrics/job/j4b', 'd{ 1\n'],
  ['PUT', '/metrics/job/j5/foo', 'd 1\n'],
  ['PUT', '/metrics/job/j5/0foo/x', 'd 1\n'],
  ['PUT', '/metrics/job@base64/L3Zhci90bXA/path@base64/=', 'e 1\n'],
  ['PUT', '/metrics/job@base64/L3Zhci90bXA=/path@base64/YS9i', 'e 2\n'],
  // HELP conflicts are left out: the Pushgateway resolves them in Go map order (random).
  ['PUT', '/metrics/job/j6', '# TYPE a counter\na 1\n'],
  ['PUT', '/metrics/job/j6b', '# HELP helped A help with \\\\ and \\n escapes.\nhelped 1\n'],
  ['PUT', '/metrics/job/j7', 'push_time_seconds 1\nq 0.000012\nr 123456789\ns -0.5\nt NaN\nu2 +Inf\n'],
  ['PUT', '/metrics/job/j8', ''],
  ['PUT', '/metrics/job/j9', 'gone 1\n'],
  ['DELETE', '/metrics/job/j9'],
  ['DELETE', '/metrics/job/never-pushed'],
  ['PUT', '/metrics/job/j10/a/1/a/2', 'f 1\n'],
  ['PUT', '/metrics/job/j11', '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\nu 5\n'],
  ['PUT', '/metrics/job/j12', 'g 1\ng 2\n'],
  ['PUT', '/metrics/job/j13', '# TYPE u gauge\nu 1\n'],
  ['PUT', '/metrics/job/j1/instance/i1', '# TYPE a gauge\na 1\n'],
  ['PUT', '/metrics/job/pb', pb, { 'content-type': PROTOBUF_CONTENT_TYPE }],
  // Bytes that are not UTF-8: refused in a label value (text: a parse error; protobuf: the
  // consistency check, which records the failure on the group), kept in HELP text.
  ['PUT', '/metrics/job/u1', notUtf8('# TYPE u8 gauge\nu8{k="x', '"} 1\n')],
  ['PUT', '/metrics/job/u2', pbNotUtf8, { 'content-type': PROTOBUF_CONTENT_TYPE }],
  ['PUT', '/metrics/job/u3', notUtf8('# HELP u9 help ', '\n# TYPE u9 gauge\nu9 1\n')],
  ['PUT', '/metrics/job/gz', gzipSync('gz_value{l="with \\"quote\\" and \\\\ and \\n"} 3\n'), { 'content-encoding': 'gzip' }],
  ['POST', '/metrics/job/j11', '# TYPE h histogram\nh_bucket{le="0.5"} 0\nh_bucket{le="+Inf"} 1\nh_sum 0.7\nh_count 1\n'],
  // Suffix collisions with summaries and histograms, across groups, in both orders, and within a push.
  ['PUT', '/metrics/job/sc1', '# TYPE sx summary\nsx{quantile="0.5"} 1\nsx_sum 1\nsx_count 1\n'],
  ['PUT', '/metrics/job/sc2', 'sx_count 5\n'],
  ['PUT', '/metrics/job/sc2b', 'sx_sum 5\n'],
  ['PUT', '/metrics/job/sc3', 'sx_bucket 5\n'],
  ['PUT', '/metrics/job/sc4', 'hy_sum 1\n'],
  ['PUT', '/metrics/job/sc5', '# TYPE hy histogram\nhy_bucket{le="+Inf"} 1\nhy_sum 1\nhy_count 1\n'],
  ['PUT', '/metrics/job/sc4', 'other 1\n'],
  ['PUT', '/metrics/job/sc5', '# TYPE hy histogram\nhy_bucket{le="+Inf"} 1\nhy_sum 1\nhy_count 1\n'],
  ['PUT', '/metrics/job/sc6', 'hy_bucket 1\n'],
  ['POST', '/metrics/job/sc5', 'hy_count 2\n'],
  ['PUT', '/metrics/job/sc7', 'zz_count 1\n# TYPE zz summary\nzz{quantile="0.5"} 1\n'],
];

const SELF = /^(# (HELP|TYPE) )?(go_|process_|pushgateway_|promhttp_|jobpulse_|job_)/;

/** Sample and TYPE/HELP lines of the pushed families, push times reduced to set/unset. */
const pushedPart = (text: string): string[] =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('# EOF') && !SELF.test(l))
    .map((l) => l.replace(/^(push_(?:failure_)?time_seconds\{[^}]*\}) (.+)$/, (_m, s: string, v: string) => `${s} ${v === '0' ? 'unset' : 'set'}`));

describe.skipIf(!has)('differential: jobpulse vs the real Pushgateway', () => {
  let pg: RealPushgateway;
  let jp: TestAgent;
  beforeAll(async () => {
    pg = await startPushgateway();
    jp = await startAgent({ config: { pushgateway: { lifecycle_bridge: false } } });
  });
  afterAll(async () => {
    await pg?.stop();
    await jp?.stop();
  });

  it('answers every step with the same status and exposes the same samples', async () => {
    const statuses: [string, number, number][] = [];
    for (const [method, path, body, headers] of SCRIPT) {
      const a = await fetch(`${pg.url}${path}`, { method, body, headers, redirect: 'manual' });
      const b = await fetch(`${jp.url}${path}`, { method, body, headers, redirect: 'manual' });
      await a.arrayBuffer();
      await b.arrayBuffer();
      statuses.push([`${method} ${path}`, a.status, b.status]);
    }
    expect(statuses.filter(([, x, y]) => x !== y)).toEqual([]);
    const real = pushedPart(await (await fetch(`${pg.url}/metrics`)).text());
    const ours = pushedPart(await (await fetch(`${jp.url}/metrics`)).text());
    expect(ours).toEqual(real);
  });

  it("answers the Pushgateway's probe paths as it does (Helm chart and existing probes call them)", async () => {
    for (const path of ['/-/healthy', '/-/ready']) {
      const a = await fetch(`${pg.url}${path}`);
      const b = await fetch(`${jp.url}${path}`);
      expect([b.status, await b.text()]).toEqual([a.status, await a.text()]);
      expect(b.status).toBe(200);
    }
  });

  it('reads the Go-written delimited protobuf fixtures as the real Pushgateway does', async () => {
    const statuses: [string, number, number][] = [];
    for (const [name, bytes] of goProtobufFixtures()) {
      for (const method of ['PUT', 'POST']) {
        const path = `/metrics/job/gofix-${name}/method/${method}`;
        const init = { method, body: bytes, headers: { 'content-type': PROTOBUF_CONTENT_TYPE } };
        const a = await fetch(`${pg.url}${path}`, init);
        const b = await fetch(`${jp.url}${path}`, init);
        await a.arrayBuffer();
        await b.arrayBuffer();
        statuses.push([`${method} ${name}`, a.status, b.status]);
      }
    }
    expect(statuses.filter(([, x, y]) => x !== y)).toEqual([]);
    // Some are taken (not all refused), and the two refusable ones are refused by both.
    expect(statuses.filter(([, x]) => x === 200).length).toBeGreaterThanOrEqual(4);
    expect(statuses.filter(([n, x]) => /invalid-label-name|utf8-names/.test(n) && x === 400)).toHaveLength(4);
    const only = (lines: string[]): string[] => lines.filter((l) => l.includes('gofix-'));
    const real = only(pushedPart(await (await fetch(`${pg.url}/metrics`)).text()));
    const ours = only(pushedPart(await (await fetch(`${jp.url}/metrics`)).text()));
    expect(real.length).toBeGreaterThan(0);
    expect(ours).toEqual(real);
  });
});
