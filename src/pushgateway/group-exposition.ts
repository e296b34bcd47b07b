/**
 * Renders pushed groups on /metrics the way the Pushgateway does: one family per metric
 * name across all groups, families sorted by name, samples sorted as client_golang sorts
 * them (fewer labels first, then label values in label-name order), grouping labels
 * applied over pushed ones, `instance=""` by default, and `push_time_seconds` /
 * `push_failure_time_seconds` per group. Values are formatted like Go's
 * strconv.FormatFloat(v, 'g', -1, 64) so the text matches byte for byte.
 *
 * The output is cached and rebuilt only when the registry's version moved.
 */
import { escapeLabelValue, type ExpositionFormat } from '../metrics/exposition-format.js';
import { exposedLabels, type GroupRegistry } from './group-registry.js';
import { PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, PUSH_TIME, PUSH_TIME_HELP, type FamilyType, type Group, type PushedMetric } from './model.js';

/** Go's strconv.FormatFloat(v, 'g', -1, 64): shortest digits, exponent form when exp < -4 or exp >= 6. */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  // expfmt's writeFloat writes any zero as "0" (f == 0 holds for -0 too).
  if (v === 0) return '0';
  const [mant, expStr] = v.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(v);
}

const labelText = (labels: Record<string, string>, extra?: [string, string]): string => {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k] as string)}"`);
  if (extra) parts.push(`${extra[0]}="${extra[1]}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

interface Row {
  labels: Record<string, string>;
  sort: string[];
  metric: PushedMetric;
}

/**
 * Go compares strings byte by byte (UTF-8), which is code point order; JavaScript's `<`
 * compares UTF-16 code units, which puts U+E000–U+FFFF after characters beyond U+FFFF.
 */
export function compareCodePoints(x: string, y: string): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    let a = x.charCodeAt(i);
    let b = y.charCodeAt(i);
    if (a === b) continue;
    // Surrogates (code points above U+FFFF) move above U+E000–U+FFFF, keeping both orders.
    if (a >= 0xd800 && b >= 0xd800) {
      a = a >= 0xe000 ? a - 0x800 : a + 0x2000;
      b = b >= 0xe000 ? b - 0x800 : b + 0x2000;
    }
    return a < b ? -1 : 1;
  }
  return x.length - y.length;
}

/** client_golang's metricSorter: label count first, then values in sorted label-name order. */
const compareRows = (a: Row, b: Row): number => {
  if (a.sort.length !== b.sort.length) return a.sort.length - b.sort.length;
  for (let i = 0; i < a.sort.length; i++) {
    const x = a.sort[i] as string;
    const y = b.sort[i] as string;
    if (x !== y) return compareCodePoints(x, y);
  }
  return 0;
};

const row = (g: Group, m: PushedMetric): Row => {
  const labels = exposedLabels(g, m);
  return { labels, sort: Object.keys(labels).sort().map((k) => labels[k] as string), metric: m };
};

export interface GroupExposer {
  render(format: ExpositionFormat): string;
}

export function createGroupExposer(deps: { registry: GroupRegistry; beforeRender?: () => void }): GroupExposer {
  const cache: Partial<Record<ExpositionFormat, { version: number; text: string }>> = {};

  function build(format: ExpositionFormat): string {
    const byName = new Map<string, { type: FamilyType; help?: string; helpAt: number; rows: Row[] }>();
    const pushTime: Row[] = [];
    const failTime: Row[] = [];
    for (const g of deps.registry.all()) {
      for (const f of g.families.values()) {
        // A family pushed with no metrics (protobuf allows it) is kept in the group, as the
        // Pushgateway keeps it, but nothing of it is exposed: a TYPE line without samples.
        if (f.metrics.length === 0) continue;
        let e = byName.get(f.name);
        if (!e) {
          e = { type: f.type, helpAt: -1, rows: [] };
          byName.set(f.name, e);
        }
        // Groups may disagree on HELP; the most recently pushed one wins.
        if (f.help !== undefined && g.push_time >= e.helpAt) {
          e.help = f.help;
          e.helpAt = g.push_time;
        }
        for (const m of f.metrics) e.rows.push(row(g, m));
      }
      pushTime.push(row(g, { labels: {}, value: g.push_time / 1000 }));
      failTime.push(row(g, { labels: {}, value: g.push_failure_time / 1000 }));
    }
    if (deps.registry.size > 0) {
      byName.set(PUSH_TIME, { type: 'gauge', help: PUSH_TIME_HELP, helpAt: 0, rows: pushTime });
      byName.set(PUSH_FAILURE_TIME, { type: 'gauge', help: PUSH_FAILURE_TIME_HELP, helpAt: 0, rows: failTime });
    }
    const om = format === 'openmetrics';
    let out = '';
    for (const name of [...byName.keys()].sort()) {
      const e = byName.get(name) as { type: FamilyType; help?: string; rows: Row[] };
      e.rows.sort(compareRows);
      // OpenMetrics: a counter's samples must end in _total; one pushed without it keeps its
      // name as `unknown` rather than silently gaining a suffix.
      let type: string = e.type;
      let family = name;
      let counterSuffix = '';
      if (om) {
        if (e.type === 'untyped') type = 'unknown';
        else if (e.type === 'counter') {
          if (name.endsWith('_total')) {
            family = name.slice(0, -'_total'.length);
            counterSuffix = '_total';
          } else type = 'unknown';
        }
      }
      if (e.help !== undefined) out += `# HELP ${family} ${om ? e.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : e.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n`;
      out += `# TYPE ${family} ${type}\n`;
      const sample = family + counterSuffix;
      for (const r of e.rows) {
        const m = r.metric;
        if (e.type === 'histogram') {
          let infSeen = false;
          for (const [le, c] of m.buckets ?? []) {
            out += `${name}_bucket${labelText(r.labels, ['le', goFloat(le)])} ${goFloat(c)}\n`;
            if (le === Infinity) infSeen = true;
          }
          // As expfmt writes a histogram: the +Inf bucket is the count when none was pushed.
          if (!infSeen) out += `${name}_bucket${labelText(r.labels, ['le', '+Inf'])} ${goFloat(m.count ?? 0)}\n`;
          out += `${name}_sum${labelText(r.labels)} ${goFloat(m.sum ?? 0)}\n${name}_count${labelText(r.labels)} ${goFloat(m.count ?? 0)}\n`;
        } else if (e.type === 'summary') {
          for (const [q, v] of m.quantiles ?? []) out += `${name}${labelText(r.labels, ['quantile', goFloat(q)])} ${goFloat(v)}\n`;
          out += `${name}_sum${labelText(r.labels)} ${goFloat(m.sum ?? 0)}\n${name}_count${labelText(r.labels)} ${goFloat(m.count ?? 0)}\n`;
        } else out += `${om ? sample : name}${labelText(r.labels)} ${goFloat(m.value ?? 0)}\n`;
      }
    }
    return out;
  }

  return {
    render(format) {
      deps.beforeRender?.();
      const c = cache[format];
      if (c && c.version === deps.registry.version) return c.text;
      const text = build(format);
      cache[format] = { version: deps.registry.version, text };
      return text;
    },
  };
}
