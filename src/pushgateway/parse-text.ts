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

const TYPES: Record<string, FamilyType> = { COUNTER: 'counter', GAUGE: 'gauge', UNTYPED: 'untyped', SUMMARY: 'summary', HISTOGRAM: 'histogram' };

/**
 * Go's strconv.ParseFloat as the text parser calls it: decimal spellings, Inf/Infinity/NaN
 * in any case; no hex floats or underscores (the parser refuses p, P and _), and a finite
 * spelling out of float64's range is an error (ErrRange), not ±Inf.
 */
export function parseFloatStrict(s: string): number | undefined {
  // The common case first (a digit, or a sign or dot before one): no lower-casing.
  const c0 = s.charCodeAt(0);
  const c1 = s.charCodeAt(1);
  const digit = (c: number): boolean => c >= 0x30 && c <= 0x39;
  if (digit(c0) || ((c0 === 0x2b || c0 === 0x2d || c0 === 0x2e) && (digit(c1) || (c1 === 0x2e && digit(s.charCodeAt(2)))))) {
    if (!DECIMAL.test(s)) return undefined;
    const v = Number(s);
    return Number.isFinite(v) ? v : undefined;
  }
  const l = s.toLowerCase();
  if (l === 'nan') return NaN; // unsigned only: the real Pushgateway refuses +NaN and -nan
  if (l === '+inf' || l === 'inf' || l === '+infinity' || l === 'infinity') return Infinity;
  if (l === '-inf' || l === '-infinity') return -Infinity;
  return undefined;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;

/**
 * Go's uint64(v) on amd64, which the text parser applies to histogram and summary counts
 * and bucket counts: fractions truncated, a negative value wraps around 2^64, and NaN, ±Inf
 * and anything out of range become 2^63 (the CPU's "integer indefinite"). Checked against
 * the real Pushgateway (-2.5 → 1.8446744073709552e+19, NaN and 2e19 → 9.223372036854776e+18).
 */
export function goUint64(v: number): number {
  if (!Number.isFinite(v) || v >= TWO_64 || v <= -TWO_63) return TWO_63;
  const t = Math.trunc(v);
  // One rounding of the exact 2^64 + t, as Go's uint64 → float64 conversion does.
  return t < 0 ? TWO_64 + t : t === 0 ? 0 : t;
}

/**
 * Go's strings.ToUpper: one character to one character. JavaScript's toUpperCase also applies
 * Unicode's one-to-many mappings, so "hiﬆogram" (U+FB06) became "HISTOGRAM" and was taken.
 */
function goUpper(s: string): string {
  let out = '';
  for (const ch of s) {
    const u = ch.toUpperCase();
    out += u.length === ch.length ? u : ch;
  }
  return out;
}

/** Go's strconv.ParseInt(s, 10, 64) accepts it. */
function isInt64(s: string): boolean {
  if (!/^[+-]?\d+$/.test(s)) return false;
  const digits = s.replace(/^[+-]/, '').replace(/^0+(?=\d)/, '');
  if (digits.length < 19) return true;
  if (digits.length > 19) return false;
  return s.startsWith('-') ? digits <= '9223372036854775808' : digits <= '9223372036854775807';
}

interface Building {
  family: MetricFamily;
  /** A TYPE line or a sample has set the type (Go: `Type != nil`). */
  typed: boolean;
  /** A HELP line has set the help (Go: `Help != nil`), even to "". */
  helped: boolean;
  /** Histogram/summary metrics by their label set without le/quantile (created on first use). */
  byLabels: Map<string, PushedMetric> | undefined;
}

const labelSig = (labels: Record<string, string>): string => JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));

const SPACE = 0x20;
const TAB = 0x09;
const NL = 0x0a;
const isBlank = (c: number): boolean => c === SPACE || c === TAB;
const isNameStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
const isNameRest = (c: number): boolean => isNameStart(c) || (c >= 0x30 && c <= 0x39);
const isMetricStart = (c: number): boolean => isNameStart(c) || c === 0x3a;
const isMetricRest = (c: number): boolean => isNameRest(c) || c === 0x3a;

/**
 * A port of the Go text parser the Pushgateway (1.5.1) uses (prometheus/common expfmt's
 * TextParser, state by state), so that what one refuses the other refuses, and what one
 * takes reads the same: lines end in \n only (a \r is part of the token it ends, a body
 * whose last line has no \n is "unexpected end of input stream"); only blanks and tabs
 * separate; HELP/TYPE names of `x_sum`/`x_count` (and `x_bucket`) land on a summary or
 * histogram `x`; `le`/`quantile` are taken off every sample of a histogram/summary (its
 * `_sum` and `_count` too), a NaN bound drops the sample, and counts go through uint64.
 * Pinned by the differential test against the real Pushgateway.
 */
export function parseText(input: string): MetricFamily[] {
  const families = new Map<string, Building>();
  const n = input.length;
  let pos = 0;
  let lineNo = 0;
  let sawTimestamp = false;
  const fail = (msg: string): never => {
    throw new ExpositionParseError(`text format parsing error in line ${lineNo}: ${msg}`);
  };
  const eof = (): never => fail('unexpected end of input stream');
  const at = (): number => (pos < n ? input.charCodeAt(pos) : -1);
  // The loops below scan with a local index and store it once: `pos` lives in the closures'
  // shared context, and a context slot written per character doubled the cost of a push.
  const skipBlanks = (): void => {
    let p = pos;
    while (p < n && isBlank(input.charCodeAt(p))) p++;
    pos = p;
  };
  /** Go's quoting of a byte in %q, near enough for a message. */
  const q = (c: number): string => (c < 0 ? 'end of input' : JSON.stringify(String.fromCharCode(c)));
  // Two readers rather than one taking predicates: this runs for every name of every push.
  const readMetricName = (): string => {
    const from = pos;
    let p = pos;
    if (p < n && isMetricStart(input.charCodeAt(p))) {
      p++;
      while (p < n && isMetricRest(input.charCodeAt(p))) p++;
    }
    pos = p;
    if (p >= n) eof();
    return input.slice(from, p);
  };
  const readLabelName = (): string => {
    const from = pos;
    let p = pos;
    if (p < n && isNameStart(input.charCodeAt(p))) {
      p++;
      while (p < n && isNameRest(input.charCodeAt(p))) p++;
    }
    pos = p;
    if (p >= n) eof();
    return input.slice(from, p);
  };
  /** Up to the next blank, tab or newline (which stays); end of input is an error. */
  const readToken = (): string => {
    const from = pos;
    for (let p = pos; p < n; p++) {
      const c = input.charCodeAt(p);
      if (c === SPACE || c === TAB || c === NL) {
        pos = p;
        return input.slice(from, p);
      }
    }
    pos = n;
    return eof();
  };
  /** The rest of the line (the newline stays), optionally with HELP's two escapes. */
  const readRest = (escapes: boolean): string => {
    const nl = input.indexOf('\n', pos);
    if (nl < 0) eof();
    const raw = input.slice(pos, nl);
    pos = nl;
    if (!raw.includes('\\')) return raw;
    // Without escapes Go's readTokenUntilNewline still swallows every backslash (it sets its
    // `escaped` flag and writes nothing): `# TYPE x gau\ge` is a gauge there.
    if (!escapes) return raw.replace(/\\/g, '');
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i] as string;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const nx = raw[++i];
      if (nx === '\\') out += '\\';
      else if (nx === 'n') out += '\n';
      else fail(`invalid escape sequence '\\${nx ?? '\n'}'`);
    }
    return out;
  };

  /** Go's setOrCreateCurrentMF: `x_sum`/`x_count` (and a histogram's `x_bucket`) resolve to `x`. */
  let isCount = false;
  let isSum = false;
  const family = (name: string): Building => {
    isCount = false;
    isSum = false;
    const exact = families.get(name);
    if (exact) return exact;
    const count = name.length > 6 && name.endsWith('_count');
    const sum = !count && name.length > 4 && name.endsWith('_sum');
    const bucket = !count && !sum && name.length > 7 && name.endsWith('_bucket');
    if (count || sum) {
      const b = families.get(name.slice(0, name.length - (count ? 6 : 4)));
      if (b && (b.family.type === 'summary' || b.family.type === 'histogram') && b.typed) {
        isCount = count;
        isSum = sum;
        return b;
      }
    }
    if (bucket) {
      const b = families.get(name.slice(0, -7));
      if (b && b.family.type === 'histogram' && b.typed) return b;
    }
    const created: Building = { family: { name, type: 'untyped', metrics: [] }, typed: false, helped: false, byLabels: undefined };
    families.set(name, created);
    return created;
  };

  const comment = (): void => {
    pos++; // '#'
    skipBlanks();
    if (pos >= n) eof();
    if (at() === NL) return;
    const keyword = readToken();
    if (at() === NL) return;
    if (keyword !== 'HELP' && keyword !== 'TYPE') {
      const nl = input.indexOf('\n', pos);
      if (nl < 0) eof();
      pos = nl;
      return;
    }
    skipBlanks();
    if (pos >= n) eof();
    const name = readMetricName();
    if (at() === NL) return;
    if (!isBlank(at())) fail('invalid metric name in comment');
    const b = family(name);
    skipBlanks();
    if (pos >= n) eof();
    if (at() === NL) return;
    if (keyword === 'HELP') {
      if (b.helped) fail(`second HELP line for metric name ${JSON.stringify(b.family.name)}`);
      b.family.help = readRest(true);
      b.helped = true;
    } else {
      if (b.typed) fail(`second TYPE line for metric name ${JSON.stringify(b.family.name)}, or TYPE reported after samples`);
      const word = readRest(false);
      const t = TYPES[goUpper(word)];
      if (!t) fail(`unknown metric type ${JSON.stringify(word)}`);
      b.family.type = t as FamilyType;
      b.typed = true;
    }
  };

  const sample = (): void => {
    const name = readMetricName();
    if (name === '') fail('invalid metric name');
    const b = family(name);
    const f = b.family;
    if (!b.typed) b.typed = true; // untyped from its first sample on
    const complex = f.type === 'summary' || f.type === 'histogram';
    const boundLabel = f.type === 'summary' ? 'quantile' : f.type === 'histogram' ? 'le' : '';
    let bound = NaN;
    const labels: Record<string, string> = {};
    if (isBlank(at())) skipBlanks();
    if (pos >= n) eof();
    if (at() === 0x7b /* { */) {
      for (;;) {
        pos++; // '{' or ','
        skipBlanks();
        if (pos >= n) eof();
        if (at() === 0x7d /* } */) break;
        const lname = readLabelName();
        if (lname === '') fail(`invalid label name for metric ${JSON.stringify(f.name)}`);
        if (isBlank(at())) skipBlanks();
        if (pos >= n) eof();
        if (at() !== 0x3d /* = */) fail(`expected '=' after label name, found ${q(at())}`);
        if (lname === '__name__') fail('label name "__name__" is reserved');
        const real = lname !== boundLabel;
        if (real && Object.prototype.hasOwnProperty.call(labels, lname)) fail(`duplicate label names for metric ${JSON.stringify(f.name)}`);
        pos++; // '='
        skipBlanks();
        if (pos >= n) eof();
        if (at() !== 0x22 /* " */) fail(`expected '"' at start of label value, found ${q(at())}`);
        pos++;
        let v = '';
        let from = pos;
        let p = pos;
        for (;;) {
          if (p >= n) {
            pos = p;
            eof();
          }
          const c = input.charCodeAt(p);
          if (c === 0x22) break;
          if (c === NL) fail(`label value ${JSON.stringify(v + input.slice(from, p))} contains unescaped new-line`);
          if (c === 0x5c /* \ */) {
            v += input.slice(from, p);
            if (p + 1 >= n) {
              pos = p + 1;
              eof();
            }
            const nx = input[p + 1] as string;
            if (nx === '"' || nx === '\\') v += nx;
            else if (nx === 'n') v += '\n';
            else fail(`invalid escape sequence '\\${nx}'`);
            p += 2;
            from = p;
            continue;
          }
          p++;
        }
        v += input.slice(from, p);
        pos = p + 1; // past the closing quote
        // A plain assignment of "__proto__" would set the object's prototype and drop the
        // label; defined as an own property it reaches the consistency check, which refuses
        // the reserved `__` prefix as the Pushgateway does.
        if (real) {
          if (lname === '__proto__') Object.defineProperty(labels, lname, { value: v, enumerable: true, writable: true, configurable: true });
          else labels[lname] = v;
        }
        else {
          const parsed = parseFloatStrict(v);
          if (parsed === undefined) fail(`expected float as value for '${boundLabel}' label, got ${JSON.stringify(v)}`);
          bound = parsed as number;
        }
        skipBlanks();
        if (pos >= n) eof();
        const c = at();
        if (c === 0x2c /* , */) continue;
        if (c === 0x7d) break;
        fail(`unexpected end of label value ${JSON.stringify(v)}`);
      }
      pos++; // '}'
      skipBlanks();
      if (pos >= n) eof();
    }
    // The value, up to a blank or the newline.
    let m: PushedMetric | undefined;
    if (complex) {
      const sig = labelSig(labels);
      b.byLabels ??= new Map();
      m = b.byLabels.get(sig);
      if (!m) {
        m = f.type === 'histogram' ? { labels, buckets: [] } : { labels, quantiles: [] };
        b.byLabels.set(sig, m);
        f.metrics.push(m);
      }
    }
    const token = readToken();
    const value = parseFloatStrict(token);
    if (value === undefined) fail(`expected float as value, got ${JSON.stringify(token)}`);
    const val = value as number;
    if (!m) f.metrics.push({ labels, value: val });
    else if (isCount) m.count = goUint64(val);
    else if (isSum) m.sum = val;
    else if (!Number.isNaN(bound)) {
      if (f.type === 'histogram') (m.buckets as [number, number][]).push([bound, goUint64(val)]);
      else (m.quantiles as [number, number][]).push([bound, val]);
    }
    if (at() === NL) return;
    // A timestamp: an int64, then nothing but the newline.
    skipBlanks();
    if (pos >= n) eof();
    const ts = readToken();
    if (!isInt64(ts)) fail(`expected integer as timestamp, got ${JSON.stringify(ts)}`);
    const rest = readRest(false);
    if (rest !== '') fail(`spurious string after timestamp: ${JSON.stringify(rest)}`);
    sawTimestamp = true;
  };

  for (;;) {
    lineNo++;
    skipBlanks();
    if (pos >= n) break;
    const c = input.charCodeAt(pos);
    if (c === 0x23 /* # */) comment();
    else if (c !== NL) sample();
    // Every state ends on the line's newline (end of input was an error on the way).
    pos++;
  }
  // The Pushgateway refuses timestamps in its consistency check, after a clean parse.
  if (sawTimestamp) throw new TimestampError('pushed metrics must not have timestamps');
  const out: MetricFamily[] = [];
  for (const b of families.values()) if (b.family.metrics.length > 0) out.push(b.family);
  return out;
}

/**
 * The body decoded, but the Pushgateway refuses it in its consistency check rather than in
 * the parser, so the refusal is recorded on the group (push_failure_time_seconds) like any
 * inconsistent push. Checked by the differential test.
 */
export class CheckRefusal extends Error {}

/** A sample carried a timestamp: the Pushgateway refuses these (they would go stale in Prometheus). */
export class TimestampError extends CheckRefusal {}
