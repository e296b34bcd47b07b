/**
 * Metric names referenced by a PromQL expression (rules, dashboard panels), without a
 * full parser: strings, label matchers, grouping clauses, durations, Grafana variables,
 * functions and keywords are removed, and what is left are selectors. Good enough to
 * catch a renamed or misspelt metric, which is what the offline checks are for.
 */
import { ALL_METRICS } from '../../src/metrics/names.js';

const KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'inf', 'nan', 'Inf', 'NaN', 'atan2',
]);

export function metricNamesIn(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // string literals
    .replace(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/g, ' 1 ') // Grafana variables ($__rate_interval, ${job_name})
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery durations
    .replace(/\boffset\s+\S+/g, ' ');
  const names = new Set<string>();
  for (const m of s.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)) {
    const [, word, call] = m;
    if (!word || call || KEYWORDS.has(word)) continue;
    // a number like 1e3 is not a name; a duration suffix after a number neither
    const before = s[(m.index ?? 0) - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    names.add(word);
  }
  return [...names].sort();
}

/** Series names the agent exposes: every name in ALL_METRICS plus histogram sample suffixes. */
export function exposedSeriesNames(): Set<string> {
  const out = new Set<string>();
  for (const m of ALL_METRICS) {
    out.add(m.name);
    if (m.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) out.add(`${m.name}${suffix}`);
  }
  return out;
}
