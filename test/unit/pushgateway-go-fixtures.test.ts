/**
 * Delimited protobuf bodies written by Go code (client_golang's encoder), copied verbatim as
 * Go string literals from prometheus/common's expfmt decode tests (see
 * test/fixtures/pushgateway-protobuf/PROVENANCE.md), parsed by our decoder. The expected
 * values are the ones the Go test asserts for the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { parseProtobufDelimited } from '../../src/pushgateway/parse-protobuf.js';
import { goProtobufFixtures } from '../support/go-protobuf-fixtures.js';

const fx = goProtobufFixtures();

describe('delimited protobuf written by Go (prometheus/common expfmt test vectors)', () => {
  it('reads every fixture as one whole delimited message', () => {
    expect([...fx.keys()]).toEqual(['counter-two-metrics', 'invalid-label-name', 'summary', 'histogram', 'histogram-without-inf-bucket', 'type-unset', 'utf8-names']);
    // The varint length prefix must cover exactly the rest: proves the literal was decoded byte for byte.
    for (const [name, bytes] of fx) {
      let len = 0;
      let shift = 0;
      let i = 0;
      for (;;) {
        const b = bytes[i++] as number;
        len |= (b & 0x7f) << shift;
        shift += 7;
        if (b < 0x80) break;
      }
      expect(i + len, name).toBe(bytes.length);
    }
  });

  it.each([
    ['counter-two-metrics', [{ name: 'request_count', type: 'counter', help: 'Number of requests', metrics: [{ labels: { some_label_name: 'some_label_value' }, value: -42 }, { labels: { another_label_name: 'another_label_value' }, value: 84 }] }]],
    [
      'summary',
      [
        {
          name: 'request_count',
          type: 'summary',
          help: 'Number of requests',
          metrics: [
            { labels: { some_label_name: 'some_label_value' }, quantiles: [[0.99, -42], [0.999, -84]], sum: 0, count: 0 },
            { labels: { another_label_name: 'another_label_value' }, quantiles: [[0.5, 10]], sum: 0, count: 0 },
          ],
        },
      ],
    ],
    [
      'histogram',
      [{ name: 'request_duration_microseconds', type: 'histogram', help: 'The response latency.', metrics: [{ labels: {}, buckets: [[100, 123], [120, 412], [144, 592], [172.8, 1524], [Infinity, 2693]], sum: 1756047.3, count: 2693 }] }],
    ],
    // No +Inf bucket on the wire: read as sent (the exposition adds one with the sample count,
    // as Go's does; the differential test checks it against the real Pushgateway).
    [
      'histogram-without-inf-bucket',
      [{ name: 'request_duration_microseconds', type: 'histogram', help: 'The response latency.', metrics: [{ labels: {}, buckets: [[100, 123], [120, 412], [144, 592], [172.8, 1524]], sum: 1756047.3, count: 2693 }] }],
    ],
    // The type field is absent: proto2's default is the enum's first value, COUNTER (not UNTYPED).
    ['type-unset', [{ name: 'request_count', type: 'counter', metrics: [{ labels: {}, value: 1 }] }]],
  ])('%s', (name, expected) => {
    expect(parseProtobufDelimited(fx.get(name) as Uint8Array)).toEqual(expected);
  });

  it.each([
    ['invalid-label-name', /invalid label name "some_!abel_name"/],
    // UTF-8 metric and label names: refused under the classic name rules the Pushgateway 1.5 applies.
    ['utf8-names', /invalid metric name "gauge.name"/],
  ])('refuses %s', (name, message) => {
    expect(() => parseProtobufDelimited(fx.get(name) as Uint8Array)).toThrow(message);
  });
});
