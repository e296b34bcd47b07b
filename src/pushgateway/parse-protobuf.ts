/**
 * The delimited protobuf format the Go client (and the Pushgateway's own tools) push by
 * default: a sequence of varint-length-prefixed io.prometheus.client.MetricFamily
 * messages. The schema is the subset of prometheus/client_model's metrics.proto the
 * Pushgateway exposes (native-histogram and exemplar fields are skipped as unknown
 * fields by protobufjs).
 */
import protobuf from 'protobufjs';
import { utf8Text } from '../runtime/utf8.js';
import type { FamilyType, MetricFamily, PushedMetric } from './model.js';
import { CheckRefusal, ExpositionParseError, TimestampError } from './parse-text.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

const schema = (labelValue: 'string' | 'bytes'): string => `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional ${labelValue} value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; GAUGE_HISTOGRAM = 5; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message Quantile { optional double quantile = 1; optional double value = 2; }
message Summary { optional uint64 sample_count = 1; optional double sample_sum = 2; repeated Quantile quantile = 3; }
message Untyped { optional double value = 1; }
message Bucket { optional uint64 cumulative_count = 1; optional double cumulative_count_float = 4; optional double upper_bound = 2; }
message Histogram { optional uint64 sample_count = 1; optional double sample_count_float = 4; optional double sample_sum = 2; repeated Bucket bucket = 3; }
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Summary summary = 4;
  optional Untyped untyped = 5;
  optional Histogram histogram = 7;
  optional int64 timestamp_ms = 6;
}
message MetricFamily { optional string name = 1; optional string help = 2; optional MetricType type = 3; repeated Metric metric = 4; }
`;

const familyType = (labelValue: 'string' | 'bytes'): protobuf.Type => protobuf.parse(schema(labelValue), { keepCase: true }).root.lookupType('io.prometheus.client.MetricFamily');
export const MetricFamilyType = familyType('string');
/**
 * Decoding reads label values as bytes (the same wire type as string) to see what a string
 * field would hide: the Pushgateway refuses a label value that is not UTF-8 ("value is not utf8").
 */
const MetricFamilyBytesType = familyType('bytes');

const EMPTY = new Uint8Array(0);

const TYPE_BY_ENUM: Record<number, FamilyType> = { 0: 'counter', 1: 'gauge', 2: 'summary', 3: 'untyped', 4: 'histogram' };

interface PbMetric {
  label?: { name?: string; value?: Uint8Array }[];
  gauge?: { value?: number };
  counter?: { value?: number };
  untyped?: { value?: number };
  summary?: { sample_count?: number | Long; sample_sum?: number; quantile?: { quantile?: number; value?: number }[] };
  histogram?: { sample_count?: number | Long; sample_count_float?: number; sample_sum?: number; bucket?: { cumulative_count?: number | Long; cumulative_count_float?: number; upper_bound?: number }[] };
  timestamp_ms?: number | Long;
}
interface Long {
  toNumber(): number;
}
const num = (v: number | Long | undefined): number => (v === undefined ? 0 : typeof v === 'number' ? v : v.toNumber());

export function parseProtobufDelimited(bytes: Uint8Array): MetricFamily[] {
  const reader = protobuf.Reader.create(bytes);
  type PbFamily = { name?: string; help?: string; type?: number; metric?: PbMetric[] };
  // The Pushgateway reads the families into a map by name: a name sent twice keeps the last
  // family, and only the kept ones are checked.
  const byName = new Map<string, PbFamily>();
  while (reader.pos < reader.len) {
    let msg: PbFamily;
    try {
      msg = MetricFamilyBytesType.toObject(MetricFamilyBytesType.decodeDelimited(reader), { defaults: false }) as PbFamily;
    } catch (err) {
      throw new ExpositionParseError(`protobuf parsing error: ${(err as Error).message}`);
    }
    const name = msg.name ?? '';
    byName.delete(name);
    byName.set(name, msg);
  }
  const out: MetricFamily[] = [];
  for (const [name, msg] of byName) {
    // Names are not checked by the protobuf decoder in Go but by the Pushgateway's consistency
    // check, which records the refusal on the group: hence CheckRefusal, not a parse error.
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new CheckRefusal(`invalid metric name ${JSON.stringify(name)}`);
    // An absent type is proto2's enum default, COUNTER (GetType() in Go), not UNTYPED.
    const type = TYPE_BY_ENUM[msg.type ?? 0];
    if (!type) throw new ExpositionParseError(`metric family "${name}" has unsupported type ${msg.type}`);
    const metrics: PushedMetric[] = [];
    for (const m of msg.metric ?? []) {
      if (m.timestamp_ms !== undefined && num(m.timestamp_ms) !== 0) throw new TimestampError('pushed metrics must not have timestamps');
      const labels: Record<string, string> = {};
      for (const l of m.label ?? []) {
        const ln = l.name ?? '';
        if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(ln)) throw new CheckRefusal(`invalid label name ${JSON.stringify(ln)} for metric "${name}"`);
        if (Object.hasOwn(labels, ln)) throw new CheckRefusal(`duplicate label name "${ln}" for metric "${name}"`);
        const value = utf8Text(l.value ?? EMPTY);
        if (value === undefined) throw new CheckRefusal(`label "${ln}" of metric "${name}" has a value that is not valid UTF-8`);
        // As in parse-text.ts: "__proto__" as an own property, for the check to refuse.
        if (ln === '__proto__') Object.defineProperty(labels, ln, { value, enumerable: true, writable: true, configurable: true });
        else labels[ln] = value;
      }
      // client_golang's checkMetricConsistency: the metric must carry its family's kind of
      // value; a COUNTER family whose metric holds a gauge value is refused, not read as 0.
      const field = type === 'counter' ? m.counter : type === 'gauge' ? m.gauge : type === 'untyped' ? m.untyped : type === 'summary' ? m.summary : m.histogram;
      if (field === undefined) throw new CheckRefusal(`collected metric "${name}" ${JSON.stringify(labels)} is not a ${type.toUpperCase()}`);
      if (type === 'summary') {
        const s = m.summary ?? {};
        metrics.push({ labels, quantiles: (s.quantile ?? []).map((q) => [q.quantile ?? 0, q.value ?? 0]), sum: s.sample_sum ?? 0, count: num(s.sample_count) });
      } else if (type === 'histogram') {
        const h = m.histogram ?? {};
        const buckets: [number, number][] = (h.bucket ?? []).map((b) => [b.upper_bound ?? 0, b.cumulative_count_float ?? num(b.cumulative_count)]);
        metrics.push({ labels, buckets, sum: h.sample_sum ?? 0, count: h.sample_count_float ?? num(h.sample_count) });
      } else {
        metrics.push({ labels, value: (field as { value?: number }).value ?? 0 });
      }
    }
    const fam: MetricFamily = { name, type, metrics };
    // An empty HELP is still a HELP (the Pushgateway exposes `# HELP x `).
    if (msg.help !== undefined) fam.help = msg.help;
    out.push(fam);
  }
  return out;
}

/** Encodes families as the Go client would send them (used by tests and the bench). */
export function encodeProtobufDelimited(families: { name: string; help?: string; type: number; metric: object[] }[]): Uint8Array {
  const w = protobuf.Writer.create();
  // Plain objects in the message's shape encode directly; fromObject's conversion pass is skipped (hot path).
  for (const f of families) MetricFamilyType.encodeDelimited(f as unknown as protobuf.Message, w);
  return w.finish();
}

const ENUM_BY_TYPE: Record<FamilyType, number> = { counter: 0, gauge: 1, summary: 2, untyped: 3, histogram: 4 };

/** Any families through protobufjs (summaries and histograms; also the reference for the hand-written path). */
export function encodeFamiliesGeneric(families: Iterable<MetricFamily>): Uint8Array {
  const out: { name: string; help?: string; type: number; metric: object[] }[] = [];
  for (const f of families) {
    const metric = f.metrics.map((m) => {
      const label = Object.entries(m.labels).map(([name, value]) => ({ name, value }));
      if (f.type === 'summary') return { label, summary: { sample_count: m.count ?? 0, sample_sum: m.sum ?? 0, quantile: (m.quantiles ?? []).map(([quantile, value]) => ({ quantile, value })) } };
      if (f.type === 'histogram')
        return { label, histogram: { sample_count_float: m.count ?? 0, sample_sum: m.sum ?? 0, bucket: (m.buckets ?? []).map(([upper_bound, c]) => ({ upper_bound, cumulative_count_float: c })) } };
      return { label, [f.type]: { value: m.value ?? 0 } };
    });
    out.push({ name: f.name, ...(f.help !== undefined ? { help: f.help } : {}), type: ENUM_BY_TYPE[f.type], metric });
  }
  return encodeProtobufDelimited(out);
}

const SIMPLE_FIELD: Partial<Record<FamilyType, number>> = { gauge: 2, counter: 3, untyped: 5 };

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/**
 * Our families as delimited protobuf: the storage encoding of a group (keeps NaN and ±Inf,
 * unlike JSON). Written on every push, so counters, gauges and untyped families (nearly all
 * pushes) are encoded by hand into one buffer, byte for byte what protobufjs writes for them
 * (unit-tested); summaries and histograms go through protobufjs.
 */
export function encodeFamilies(families: Iterable<MetricFamily>): Uint8Array {
  const list = [...families];
  if (!list.every((f) => SIMPLE_FIELD[f.type] !== undefined)) return encodeFamiliesGeneric(list);
  // Pass 1: sizes. Strings are measured once and reused in pass 2.
  const famSizes: number[] = [];
  const metricSizes: number[] = [];
  const strLens: number[] = [];
  const str = (s: string): number => {
    const n = Buffer.byteLength(s);
    strLens.push(n);
    return 1 + varintSize(n) + n;
  };
  let total = 0;
  for (const f of list) {
    let fs = str(f.name) + (f.help !== undefined ? str(f.help) : 0) + 2; // + type (tag, 1-byte enum)
    for (const m of f.metrics) {
      let ms = 11; // value: tag + length 9 + (tag + 8-byte double)
      for (const k in m.labels) {
        const pair = str(k) + str(m.labels[k] as string);
        ms += 1 + varintSize(pair) + pair;
      }
      metricSizes.push(ms);
      fs += 1 + varintSize(ms) + ms;
    }
    famSizes.push(fs);
    total += varintSize(fs) + fs;
  }
  // Pass 2: write.
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let si = 0;
  let mi = 0;
  const varint = (n: number): void => {
    while (n >= 0x80) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
  };
  const writeStr = (tag: number, s: string): void => {
    const n = strLens[si++] as number;
    buf[pos++] = tag;
    varint(n);
    pos += buf.write(s, pos, n, 'utf8');
  };
  list.forEach((f, fi) => {
    varint(famSizes[fi] as number);
    writeStr(0x0a, f.name);
    if (f.help !== undefined) writeStr(0x12, f.help);
    buf[pos++] = 0x18;
    buf[pos++] = ENUM_BY_TYPE[f.type];
    for (const m of f.metrics) {
      buf[pos++] = 0x22;
      varint(metricSizes[mi++] as number);
      for (const k in m.labels) {
        const kn = strLens[si] as number;
        const vn = strLens[si + 1] as number;
        buf[pos++] = 0x0a;
        varint(1 + varintSize(kn) + kn + 1 + varintSize(vn) + vn);
        writeStr(0x0a, k);
        writeStr(0x12, m.labels[k] as string);
      }
      buf[pos++] = ((SIMPLE_FIELD[f.type] as number) << 3) | 2;
      buf[pos++] = 9;
      buf[pos++] = 0x09;
      buf.writeDoubleLE(m.value ?? 0, pos);
      pos += 8;
    }
  });
  return buf;
}

