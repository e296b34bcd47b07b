/**
 * Offline checks of the Grafana dashboards, after the dashboard-linter's rules: every
 * dashboard parses, has a stable uid, a datasource variable that every panel and target
 * uses, a job_name (or instance) variable; every panel is described and has a unit; every
 * variable used is defined; every query's metric names exist in the agent's metric
 * contract (ALL_METRICS in src/metrics/names.ts) or are recording rules of rules/; and
 * every query is valid PromQL (promtool check rules over the queries, variables replaced).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { exposedSeriesNames, metricNamesIn } from '../support/promql-names.js';
import { hasBinary } from '../support/require-binary.js';
import { tempDir } from '../support/temp-dir.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  description?: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const DIR = 'grafana/dashboards';
const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, d: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard }));
const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
const recorded = new Set(
  readdirSync('rules')
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => (parse(readFileSync(join('rules', f), 'utf8')) as { groups: { rules: { record?: string }[] }[] }).groups)
    .flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))),
);
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__interval_ms', '__range', '__range_s', '__range_ms', '__dashboard']);
/** Grafana's unit ids this repo uses; a typo would show raw numbers. */
const UNITS = new Set(['none', 'short', 's', 'ms', 'percent', 'percentunit', 'dateTimeFromNow', 'dateTimeAsIso', 'cps', 'reqps', 'ops', 'bytes', 'bool_yes_no']);
const varsIn = (s: string): string[] => [...s.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g)].map((m) => (m[1] ?? m[2]) as string);

describe('grafana dashboards', () => {
  it('are the three the issue asks for, with stable, unique uids', () => {
    expect(dashboards.map((x) => x.d.uid).sort()).toEqual(['jobpulse-agent-health', 'jobpulse-fleet', 'jobpulse-job-detail']);
  });

  describe.each(dashboards.map((x) => [x.file, x.d] as const))('%s', (_file, d) => {
    const vars = new Map(d.templating.list.map((v) => [v.name, v]));
    const panels = panelsOf(d);

    it('has a title, a description and a datasource variable for Prometheus', () => {
      expect(d.title).toMatch(/^jobpulse \/ /);
      expect(d.description).toBeTruthy();
      expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    });

    it('has a job_name or instance variable fed from a contract metric', () => {
      const v = vars.get('job_name') ?? vars.get('instance');
      expect(v).toBeDefined();
      const q = typeof v?.query === 'string' ? v.query : (v?.query.query ?? '');
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(q);
      expect(m, q).not.toBeNull();
      expect(exposedSeriesNames().has(m?.[1] ?? '')).toBe(true);
      expect(v?.datasource?.uid).toBe('${datasource}');
    });

    it('describes every panel, sets its unit, and gives it a place', () => {
      expect(panels.length).toBeGreaterThan(3);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels) {
        expect(p.description, p.title).toBeTruthy();
        expect(UNITS.has(p.fieldConfig?.defaults?.unit ?? ''), `${p.title}: unit ${p.fieldConfig?.defaults?.unit}`).toBe(true);
        expect(p.gridPos, p.title).toBeDefined();
        expect((p.gridPos?.x ?? 0) + (p.gridPos?.w ?? 0), p.title).toBeLessThanOrEqual(24);
      }
    });

    it('queries only through the datasource variable', () => {
      for (const p of panels) {
        expect(p.datasource?.uid, p.title).toBe('${datasource}');
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          expect(t.expr, p.title).toBeTruthy();
          if (t.datasource) expect(t.datasource.uid).toBe('${datasource}');
        }
      }
    });

    it('uses only variables it defines (or Grafana built-ins)', () => {
      for (const p of panels)
        for (const t of p.targets ?? [])
          for (const v of varsIn(t.expr)) expect(vars.has(v) || GRAFANA_BUILTINS.has(v), `${p.title}: $${v}`).toBe(true);
    });

    it('queries only metrics of the contract, recording rules, or up', () => {
      const known = exposedSeriesNames();
      for (const p of panels)
        for (const t of p.targets ?? [])
          for (const n of metricNamesIn(t.expr)) expect(known.has(n) || recorded.has(n) || n === 'up', `${p.title}: ${n}`).toBe(true);
    });

    it('filters per-job queries by the job_name variable', () => {
      if (!vars.has('job_name')) return;
      for (const p of panels)
        for (const t of p.targets ?? []) if (/\bjob_/.test(t.expr)) expect(t.expr, p.title).toContain('$job_name');
    });
  });

  it.skipIf(!hasBinary('promtool', 'prometheus'))('every panel query is valid PromQL', () => {
    const tmp = tempDir();
    try {
      const rules = dashboards.flatMap(({ d }) =>
        panelsOf(d).flatMap((p) =>
          (p.targets ?? []).map((t, i) => ({
            record: `dashboard:check_${d.uid.replaceAll('-', '_')}_${p.id}_${i}:query`,
            expr: t.expr
              .replaceAll('$__rate_interval', '5m')
              .replace(/\$\{?(\w+)\}?/g, 'x'),
          })),
        ),
      );
      const file = join(tmp.path, 'queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it('has provisioning that points at these dashboards and a Prometheus datasource', () => {
    const ds = parse(readFileSync('grafana/provisioning/datasources/prometheus.yml', 'utf8')) as { datasources: { type: string; url: string }[] };
    expect(ds.datasources[0]?.type).toBe('prometheus');
    const prov = parse(readFileSync('grafana/provisioning/dashboards/jobpulse.yml', 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    expect(prov.providers[0]?.type).toBe('file');
    const compose = readFileSync('docker-compose.yml', 'utf8');
    expect(compose).toContain(`./grafana/dashboards:${prov.providers[0]?.options.path}`);
  });
});
