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

/**
 * Edge cases of the text format, found by a differential hunt on 2026-12-07: line ends,
 * blanks, comments, number spellings, counts through uint64, histograms and summaries with
 * missing or misplaced bounds, reserved label names, the grouping path.
 */
const EDGE_SCRIPT: Step[] = [
  ['PUT', '/metrics/job/e1', 'e1 1'],
  ['PUT', '/metrics/job/e2', 'e2 1\r\n'],
  ['PUT', '/metrics/job/e3', 'e3 1 \n'],
  ['PUT', '/metrics/job/e3b', 'e3b 1\t\n'],
  ['PUT', '/metrics/job/e4', '  e4 1\n  # HELP e4h hi\ne4h 1\n\n   \n\t\n'],
  ['PUT', '/metrics/job/e5', 'e5 {x="1"} 1\ne5b{x="2"}2\ne5c{}3\ne5d{ x = "4" , } 4\n'],
  ['PUT', '/metrics/job/e6', '#HELP e6 hi\ne6 1\n#\n#TYPE\n# TYPE\n# HELP e6x\n'],
  ['PUT', '/metrics/job/e7', '# TYPE e7 GAUGE\ne7 1\n# TYPE e7b Counter\ne7b 2\n'],
  ['PUT', '/metrics/job/e7c', '# TYPE e7c gauge \ne7c 1\n'],
  ['PUT', '/metrics/job/e8', '# HELP e8 x\\td\ne8 1\n'],
  ['PUT', '/metrics/job/e8b', '# HELP e8b\ne8b 1\n# HELP e8c \ne8c 1\n# HELP e8d \n# HELP e8d twice is fine after an empty one\ne8d 1\n'],
  ['PUT', '/metrics/job/e8e', '# TYPE e8s summary\n# HELP e8s_sum on the summary\ne8s_sum 1\ne8s_count 1\n'],
  ['PUT', '/metrics/job/e9', 'e9 0x10\n'],
  ['PUT', '/metrics/job/e9b', 'e9b 1e400\n'],
  ['PUT', '/metrics/job/e9c', 'e9c -0\ne9d 1e-400\ne9e .5\ne9f 5.\ne9g +.5e+3\n'],
  ['PUT', '/metrics/job/e9h', 'e9h +NaN\n'],
  ['PUT', '/metrics/job/e9i', 'e9i 1_0\n'],
  ['PUT', '/metrics/job/e10', '# comment without a newline'],
  ['PUT', '/metrics/job/h1', '# TYPE hh1 histogram\nhh1_bucket{le="1"} 1\nhh1_sum 2\nhh1_count 3\n'],
  ['PUT', '/metrics/job/h2', '# TYPE hh2 histogram\nhh2_bucket{le="1"} 1.5\nhh2_sum 2\nhh2_count 2.7\n# TYPE ss2 summary\nss2_count 2.9\nss2_sum 1\n'],
  ['PUT', '/metrics/job/h3', '# TYPE hh3 histogram\nhh3_count -1\n# TYPE ss3 summary\nss3_count NaN\n# TYPE ss3b summary\nss3b_count -2.5\n# TYPE ss3c summary\nss3c_count 2e19\n# TYPE ss3d summary\nss3d_count +Inf\n'],
  ['PUT', '/metrics/job/h4', '# TYPE hh4 histogram\nhh4 1\nhh4b_bucket 1\n# TYPE ss4 summary\nss4 1\n'],
  ['PUT', '/metrics/job/h5', '# TYPE hh5 histogram\nhh5_bucket{le="1"} 1\nhh5_sum{le="1"} 2\nhh5_count{le="1"} 1\nhh5_bucket{le="NaN"} 7\n# TYPE ss5 summary\nss5_sum{quantile="0.5"} 1\nss5_count 1\nss5{quantile="NaN"} 3\n'],
  ['PUT', '/metrics/job/h6', '# TYPE hh6 histogram\nhh6_bucket{le="+Inf"} 5\nhh6_count 3\nhh6{le="2"} 1\n'],
  ['PUT', '/metrics/job/h7', '# TYPE ss7 summary\nss7_sum{quantile="x"} 1\n'],
  ['PUT', '/metrics/job/c1', 'c1{__name__="x"} 1\n'],
  ['PUT', '/metrics/job/c2', 'c2{__x="a"} 1\n'],
  ['PUT', '/metrics/job/c3/quantile/x', '# TYPE cs3 summary\ncs3{quantile="0.5"} 1\ncs3_count 1\n'],
  ['PUT', '/metrics/job/t1', 't1 1 +5\n'],
  ['PUT', '/metrics/job/t2', 't2 1 5 \n'],
  ['PUT', '/metrics/job/t3', 't3 1 5\nt3b{ 2\n'],
  ['PUT', '/metrics/job/t4', 't4-1 2\n'],
  ['PUT', '/metrics/job/r10/job/evil', 'r10 1\n'],
  ['PUT', '/metrics/job/r11/', 'r11 1\n'],
  ['PUT', '/metrics/job/r11b/a/b/', 'r11b 1\n'],
  ['DELETE', '/metrics/job/r11/'],
  ['PUT', '/metrics/job/r12/x@base64/Pj4-', 'r12 1\n'],
  ['PUT', '/metrics/job/r12b/x@base64/Pj4+', 'r12b 1\n'],
  ['PUT', '/metrics/job/r12c/p@base64/Zm9vY', 'r12c 1\n'],
  ['DELETE', '/metrics/job/r12c/p@base64/Zm9vY'],
  ['PUT', '/metrics/job/r12d/p@base64/Zm9vYg', 'r12d 1\n'],
  // Delimited protobuf: a metric without its family's kind of value, a name sent twice (the
  // last one counts), a family without metrics, an empty HELP, a summary with a quantile label.
  ['PUT', '/metrics/job/p1', encodeProtobufDelimited([{ name: 'pbc', type: 0, metric: [{ gauge: { value: 7 } }] }]), { 'content-type': PROTOBUF_CONTENT_TYPE }],
  ['PUT', '/metrics/job/p2', encodeProtobufDelimited([{ name: 'pbu', type: 3, metric: [{}] }]), { 'content-type': PROTOBUF_CONTENT_TYPE }],
  [
    'PUT',
    '/metrics/job/p3',
    encodeProtobufDelimited([
      { name: 'pbd', type: 1, metric: [{ gauge: { value: 1 } }] },
      { name: 'pbd', type: 1, metric: [{ label: [{ name: 'a', value: 'b' }], gauge: { value: 2 } }] },
      { name: 'pbd2', type: 1, metric: [{ gauge: { value: 1 } }] },
      { name: 'pbd2', type: 0, metric: [{ counter: { value: 3 } }] },
    ]),
    { 'content-type': PROTOBUF_CONTENT_TYPE },
  ],
  ['PUT', '/metrics/job/p4', encodeProtobufDelimited([{ name: 'pbe', type: 1, metric: [] }, { name: 'pbh', help: '', type: 1, metric: [{ gauge: { value: 1 } }] }]), { 'content-type': PROTOBUF_CONTENT_TYPE }],
  ['PUT', '/metrics/job/p5', 'pbf 1\npbf2 2\n'],
  ['POST', '/metrics/job/p5', encodeProtobufDelimited([{ name: 'pbf', type: 3, metric: [] }]), { 'content-type': PROTOBUF_CONTENT_TYPE }],
  ['PUT', '/metrics/job/p6', encodeProtobufDelimited([{ name: 'pbs', type: 2, metric: [{ label: [{ name: 'quantile', value: 'x' }], summary: { sample_count: 1, sample_sum: 1 } }] }]), { 'content-type': PROTOBUF_CONTENT_TYPE }],
  // Content-Type and Content-Encoding as the Pushgateway reads them.
  ['PUT', '/metrics/job/ct1', pb, { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily' }],
  ['PUT', '/metrics/job/ct2', pb, { 'content-type': 'application/vnd.google.protobuf; proto=other; encoding=delimited' }],
  ['PUT', '/metrics/job/ct3', pb, { 'content-type': 'application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding="delimited"' }],
  ['PUT', '/metrics/job/ct4', pb, { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=DELIMITED' }],
  ['PUT', '/metrics/job/ct5', 'ct5 1\n', { 'content-type': 'application/json' }],
  ['PUT', '/metrics/job/ce1', 'ce1 1\n', { 'content-encoding': 'deflate' }],
  ['PUT', '/metrics/job/ce2', gzipSync('ce2 1\n'), { 'content-encoding': 'GZIP' }],
  ['PUT', '/metrics/job/ce3', gzipSync('ce3 1\n'), { 'content-encoding': 'x-gzip' }],
  // Found by differential fuzzing: backslashes in a TYPE word, a one-to-many uppercase, the
  // order of non-ASCII label values, a label named __proto__, media types Go cannot parse.
  ['PUT', '/metrics/job/z1', '# TYPE z1 gau\\ge\nz1 1\n# TYPE z1b \\summary\nz1b_count 1\n'],
  ['PUT', '/metrics/job/z2', '# TYPE z2 hi\uFB06ogram\nz2_bucket{le="1"} 1\n'],
  ['PUT', '/metrics/job/z2b', '# TYPE z2b hıstogram\nz2b_bucket{le="1"} 1\n'],
  ['PUT', '/metrics/job/z3', 'z3{a="\uFF01"} 1\nz3{a="\u{1F600}"} 2\nz3{a="a"} 3\n'],
  ['PUT', '/metrics/job/z4', 'z4{__proto__="x"} 1\n'],
  ['PUT', '/metrics/job/z5', 'z5 1\n', { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; encoding=delimited' }],
  ['PUT', '/metrics/job/z5b', 'z5b 1\n', { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; foo' }],
  ['PUT', '/metrics/job/z5c', 'z5c 1\n', { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; x=a b' }],
  ['PUT', '/metrics/job/z5d', pb, { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited;' }],
  ['GET', '/metrics/job/r13'],
  ['HEAD', '/metrics/job/r13'],
  ['PATCH', '/metrics/job/r13', 'r13 1\n'],
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

  /** Sends each step to both; returns the steps whose status codes differ, and both pushed parts of /metrics. */
  const replay = async (steps: Step[]) => {
    const statuses: [string, number, number][] = [];
    for (const [method, path, body, headers] of steps) {
      const a = await fetch(`${pg.url}${path}`, { method, body, headers, redirect: 'manual' });
      const b = await fetch(`${jp.url}${path}`, { method, body, headers, redirect: 'manual' });
      await a.arrayBuffer();
      await b.arrayBuffer();
      statuses.push([`${method} ${path} ${typeof body === 'string' ? JSON.stringify(body.slice(0, 40)) : ''}`, a.status, b.status]);
    }
    return {
      differing: statuses.filter(([, x, y]) => x !== y),
      real: pushedPart(await (await fetch(`${pg.url}/metrics`)).text()),
      ours: pushedPart(await (await fetch(`${jp.url}/metrics`)).text()),
    };
  };

  it('answers every step with the same status and exposes the same samples', async () => {
    const { differing, real, ours } = await replay(SCRIPT);
    expect(differing).toEqual([]);
    expect(ours).toEqual(real);
  });

  it('answers the edge cases of the text format and the grouping path as the Pushgateway does', async () => {
    const { differing, real, ours } = await replay(EDGE_SCRIPT);
    expect(differing).toEqual([]);
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
