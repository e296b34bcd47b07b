/**
 * Strict parser for the Prometheus text exposition format 0.0.4, as pushed to the
 * Pushgateway API.
 *
 * Why our own and not `parse-prometheus-text-format`: measured on the inputs the
 * Pushgateway refuses, that library accepts `d{ 1` and `garbage here` (as a sample
 * with value "here"), silently keeps the last of two identical samples and drops
 * timestamps, so a bad push would be stored instead of refused with 400. This parser
 * follows the Go text parser the Pushgateway uses: HELP/TYPE at most once per name and
 * TYPE before the family's samples, `_bucket`/`_sum`/`_count` folded into histograms and
 * summaries, `le`/`quantile` required there, and a line-numbered error otherwise.
 */
import { isUtf8 } from 'node:buffer';
import type { FamilyType, MetricFamily, PushedMetric } from './model.js';

export class ExpositionParseError extends Error {}

/**
 * The pushed bytes as text. The Go parser refuses a sample line that is not valid UTF-8 (a
 * label value: "invalid label value") and keeps HELP text as it came, where Buffer's decoder
 * would quietly turn either into U+FFFD: a sample line with invalid UTF-8 is a parse error
 * naming its line, a comment is decoded as it can be.
 */
export function expositionText(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  for (let start = 0, line = 1; start <= buf.length; line++) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl < 0 ? buf.length : nl;
    const piece = buf.subarray(start, end);
    if (!isUtf8(piece)) {
      let i = 0;
      while (piece[i] === 0x20 || piece[i] === 0x09) i++;
      if (piece[i] !== 0x23 /* # */) throw new ExpositionParseError(`text format parsing error in line ${line}: not valid UTF-8`);
    }
    start = end + 1;
  }
  return buf.toString('utf8');
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: Record<string, FamilyType> = { counter: 'counter', gauge: 'gauge', untyped: 'untyped', summary: 'summary', histogram: 'histogram' };

/** Go's strconv.ParseFloat spellings the exposition uses. */
export function parseFloatStrict(s: string): number | undefined {
  const l = s.toLowerCase();
  if (l === 'nan') return NaN;
  if (l === '+inf' || l === 'inf' || l === '+infinity' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  if (!/^[+-]?(?:\d+\.?\d*(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|0x[0-9a-f]+)$/i.test(s)) return undefined;
  const v = Number(s);
  return Number.isNaN(v) ? undefined : v;
}

interface Building {
  family: MetricFamily;
  typed: boolean;
  helped: boolean;
  /** Histogram/summary metrics by their label set without le/quantile (created on first use). */
  byLabels: Map<string, PushedMetric> | undefined;
}

const labelSig = (labels: Record<string, string>): string => JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));

/** What String#trim() === '' says, without allocating: only whitespace. */
function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    // space, \t, \n, \v, \f, \r; anything else (including Unicode spaces) goes the slow way.
    if (c !== 32 && (c < 9 || c > 13)) return c > 127 ? line.trim() === '' : false;
  }
  return true;
}

/** The fields of line[from..] separated by runs of blanks, as `.trim().split(/[ \t]+/)` would give them. */
function blankSeparated(line: string, from: number): string[] {
  const rest = line.slice(from);
  // Rare: other whitespace than space and tab; keep the exact old behaviour for it.
  if (/[^\x20\t\S]/.test(rest)) {
    const f = rest.trim().split(/[ \t]+/);
    return f[0] === '' ? [] : f;
  }
  const out: string[] = [];
  let i = 0;
  const n = rest.length;
  while (i < n) {
    while (i < n && (rest.charCodeAt(i) === 32 || rest.charCodeAt(i) === 9)) i++;
    if (i >= n) break;
    const start = i;
    while (i < n && rest.charCodeAt(i) !== 32 && rest.charCodeAt(i) !== 9) i++;
    out.push(rest.slice(start, i));
  }
  return out;
}

export function parseText(input: string): MetricFamily[] {
  const families = new Map<string, Building>();
  const get = (name: string): Building => {
    let b = families.get(name);
    if (!b) {
      b = { family: { name, type: 'untyped', metrics: [] }, typed: false, helped: false, byLabels: undefined };
      families.set(name, b);
    }
    return b;
  };
  // One closure for the whole body (this runs for every push): it reads the current line number.
  let lineNo = 0;
  const fail = (msg: string): never => {
    throw new ExpositionParseError(`text format parsing error in line ${lineNo}: ${msg}`);
  };
  const lines = input.split('\n');
  for (let i = 0; i < lines.length; i++) {
    lineNo = i + 1;
    let line = lines[i] as string;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (isBlank(line)) continue;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) continue; // any other comment
      const [, kw, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name)) fail(`invalid metric name in comment`);
      const b = get(name);
      if (kw === 'HELP') {
        if (b.helped) fail(`second HELP line for metric name "${name}"`);
        b.helped = true;
        b.family.help = rest.replace(/\\(\\|n)/g, (_x, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        const t = TYPES[rest.trim()];
        if (!t) fail(`unknown metric type "${rest.trim()}"`);
        if (b.typed) fail(`second TYPE line for metric name "${name}", or TYPE reported after samples`);
        if (b.family.metrics.length > 0) fail(`second TYPE line for metric name "${name}", or TYPE reported after samples`);
        b.typed = true;
        b.family.type = t as FamilyType;
      }
      continue;
    }
    // name{labels} value [timestamp]
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) fail(`invalid metric name`);
    const sampleName = (nm as RegExpExecArray)[0];
    let pos = sampleName.length;
    const labels: Record<string, string> = {};
    if (line[pos] === '{') {
      pos += 1;
      for (;;) {
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos] === '}') {
          pos++;
          break;
        }
        const ln = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
        if (!ln) fail(`invalid label name for metric "${sampleName}"`);
        const lname = (ln as RegExpExecArray)[0];
        pos += lname.length;
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos] !== '=') fail(`expected '=' after label name, found ${JSON.stringify(line[pos] ?? 'end of line')}`);
        pos++;
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos] !== '"') fail(`expected '"' at start of label value, found ${JSON.stringify(line[pos] ?? 'end of line')}`);
        pos++;
        let v = '';
        for (;;) {
          const ch = line[pos];
          if (ch === undefined) fail(`unterminated label value for label "${lname}"`);
          if (ch === '"') {
            pos++;
            break;
          }
          if (ch === '\\') {
            const nx = line[pos + 1];
            if (nx === '\\') v += '\\';
            else if (nx === '"') v += '"';
            else if (nx === 'n') v += '\n';
            else fail(`invalid escape sequence '\\${nx ?? ''}'`);
            pos += 2;
            continue;
          }
          v += ch;
          pos++;
        }
        if (Object.prototype.hasOwnProperty.call(labels, lname)) fail(`duplicate label name "${lname}" for metric "${sampleName}"`);
        labels[lname] = v;
        while (line[pos] === ' ' || line[pos] === '\t') pos++;
        if (line[pos] === ',') {
          pos++;
          continue;
        }
        if (line[pos] === '}') {
          pos++;
          break;
        }
        fail(`unexpected ${JSON.stringify(line[pos] ?? 'end of line')} in label set of metric "${sampleName}"`);
      }
    }
    if (line[pos] !== ' ' && line[pos] !== '\t') fail(`expected a value after metric "${sampleName}"`);
    // "value [timestamp]" between blanks, scanned by hand (no slice/trim/split per sample).
    const fields = blankSeparated(line, pos);
    if (fields.length === 0) fail(`expected a value after metric "${sampleName}"`);
    if (fields.length > 2) fail(`unexpected text after the value of metric "${sampleName}"`);
    const value = parseFloatStrict(fields[0] as string);
    if (value === undefined) fail(`expected float as value, got ${JSON.stringify(fields[0])}`);
    if (fields.length === 2) {
      if (!/^-?\d+$/.test(fields[1] as string)) fail(`expected integer as timestamp, got ${JSON.stringify(fields[1])}`);
      throw new TimestampError('pushed metrics must not have timestamps');
    }
    addSample(sampleName, labels, value as number, fail);
  }

  function addSample(sampleName: string, labels: Record<string, string>, value: number, fail: (m: string) => never): void {
    // A `_bucket`/`_sum`/`_count` sample belongs to a histogram or summary family declared under the base name.
    const suffix = /_(bucket|sum|count)$/.exec(sampleName);
    if (suffix) {
      const base = sampleName.slice(0, -suffix[0].length);
      const b = families.get(base);
      if (b && (b.family.type === 'histogram' || (b.family.type === 'summary' && suffix[1] !== 'bucket'))) {
        return addComplex(b, suffix[1] as 'bucket' | 'sum' | 'count', labels, value, fail);
      }
    }
    const b = get(sampleName);
    if (b.family.type === 'summary') return addComplex(b, 'quantile', labels, value, fail);
    if (b.family.type === 'histogram') fail(`histogram "${sampleName}" needs _bucket, _sum or _count samples`);
    b.family.metrics.push({ labels, value });
  }

  function addComplex(b: Building, part: 'bucket' | 'sum' | 'count' | 'quantile', labels: Record<string, string>, value: number, fail: (m: string) => never): void {
    let own = labels;
    let bound: number | undefined;
    if (part === 'bucket' || part === 'quantile') {
      const key = part === 'bucket' ? 'le' : 'quantile';
      const raw = own[key];
      if (raw === undefined) fail(`${part === 'bucket' ? 'bucket' : 'quantile'} sample of "${b.family.name}" without "${key}" label`);
      bound = parseFloatStrict(raw as string);
      if (bound === undefined) fail(`invalid ${key} label value ${JSON.stringify(raw)}`);
      // A copy without the bound's label (delete would turn the object into a slow dictionary).
      own = {};
      for (const k in labels) if (k !== key) own[k] = labels[k] as string;
    }
    const sig = labelSig(own);
    b.byLabels ??= new Map();
    let m = b.byLabels.get(sig);
    if (!m) {
      m = b.family.type === 'histogram' ? { labels: own, buckets: [] } : { labels: own, quantiles: [] };
      b.byLabels.set(sig, m);
      b.family.metrics.push(m);
    }
    if (part === 'sum') m.sum = value;
    else if (part === 'count') m.count = value;
    else if (part === 'bucket') (m.buckets as [number, number][]).push([bound as number, value]);
    else (m.quantiles as [number, number][]).push([bound as number, value]);
  }

  return [...families.values()].filter((b) => b.family.metrics.length > 0 || b.typed || b.helped).map((b) => b.family).filter((f) => f.metrics.length > 0);
}

/**
 * The body decoded, but the Pushgateway refuses it in its consistency check rather than in
 * the parser, so the refusal is recorded on the group (push_failure_time_seconds) like any
 * inconsistent push. Checked by the differential test.
 */
export class CheckRefusal extends Error {}

/** A sample carried a timestamp: the Pushgateway refuses these (they would go stale in Prometheus). */
export class TimestampError extends CheckRefusal {}
