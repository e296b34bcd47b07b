/**
 * The alerting and recording rules: structure (every alert has for/severity/summary/
 * description/runbook), promtool check + unit tests (every alert fires with its labels and
 * annotations, near-misses stay silent), metric names against the agent's contract, and
 * `promtool check metrics` on a real agent's /metrics.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ManualClock } from '../../src/runtime/clock.js';
import { exposedSeriesNames, metricNamesIn } from '../support/promql-names.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';
import { promtoolCheckMetrics } from '../support/promtool.js';

const RULES_DIR = 'rules';
const RULE_FILES = ['jobpulse-alerts.yml', 'jobpulse-recording.yml'].map((f) => join(RULES_DIR, f));
const TEST_FILES = readdirSync(join(RULES_DIR, 'tests'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join(RULES_DIR, 'tests', f));

/** Series Prometheus itself makes. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const groups = RULE_FILES.flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups);
const rules = groups.flatMap((g) => g.rules);
const alerts = rules.filter((r) => r.alert);
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const runbook = readFileSync('docs/runbooks.md', 'utf8');

describe('rules: structure', () => {
  it('has an alert for every condition the issue names', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'JobRunFailed', 'JobFailureRateHigh', 'JobRunTooLong', 'JobStuck', 'JobSubmitTimedOut', 'JobMissedSchedule', 'JobNoRecentSuccess',
        'JobpulseDown', 'JobpulseAbsent', 'JobpulseSparkClusterFailing', 'JobpulseKafkaNotConsuming', 'JobpulseKafkaLagHigh',
        'JobpulseInvalidMessages', 'JobpulseStoreErrors', 'JobpulseDiskFilling',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert as string, a]))('%s has for, severity, summary, description and a runbook section', (name, a) => {
    expect(a.for, 'for:').toMatch(/^\d+[smh]$/);
    expect(['critical', 'warning']).toContain(a.labels?.severity);
    expect(a.annotations?.summary).toBeTruthy();
    expect(a.annotations?.description).toBeTruthy();
    // per-job alerts name the job; every alert quotes its figure or its subject label
    if (metricNamesIn(a.expr).some((n) => n.startsWith('job_'))) {
      expect(a.annotations?.summary).toContain('$labels.job_name');
      expect(a.annotations?.description).toContain('$labels.job_name');
    }
    expect(a.annotations?.runbook_url).toBe(`docs/runbooks.md#${name.toLowerCase()}`);
    expect(runbook).toMatch(new RegExp(`^## ${name}$`, 'm'));
  });

  it('aggregates per-job series by job_name so replicas do not double count', () => {
    for (const r of rules) {
      if (!metricNamesIn(r.expr).some((n) => n.startsWith('job_') && !recorded.has(n))) continue;
      expect(r.expr, r.alert ?? r.record).toMatch(/max by \(job_name/);
    }
  });

  it('names recording rules level:metric:operations', () => {
    expect(recorded.size).toBeGreaterThan(0);
    for (const name of recorded) expect(name).toMatch(/^[a-z_]*:[a-z_]+:[a-z0-9_]+$/);
  });

  it('references only metrics of the contract, recording rules or Prometheus itself', () => {
    const known = exposedSeriesNames();
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr).filter((n) => !known.has(n) && !recorded.has(n) && !PROMETHEUS_SERIES.has(n)),
    );
    expect(unknown).toEqual([]);
  });

  it('has a firing unit test for every alert', () => {
    const fired = new Set<string>();
    for (const f of TEST_FILES) {
      const doc = parse(readFileSync(f, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
      for (const t of doc.tests) for (const a of t.alert_rule_test ?? []) if (a.exp_alerts.length > 0) fired.add(a.alertname);
    }
    expect([...fired].sort()).toEqual(alerts.map((a) => a.alert as string).sort());
  });
});

describe.skipIf(!hasBinary('promtool', 'prometheus'))('rules: promtool', () => {
  it('passes promtool check rules', () => {
    const r = spawnSync('promtool', ['check', 'rules', ...RULE_FILES], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/FAILED|error/i);
    expect(r.status).toBe(0);
  });

  it('passes promtool test rules (every alert fires as expected, near-misses stay silent)', () => {
    const r = spawnSync('promtool', ['test', 'rules', ...TEST_FILES], { encoding: 'utf8' });
    expect(r.stdout + r.stderr, r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.status).toBe(0);
  });

  it('fails promtool test rules when an expectation is wrong (the tests can fail)', () => {
    const tmp = tempDir();
    try {
      const text = readFileSync(join(RULES_DIR, 'tests', 'jobs.test.yml'), 'utf8')
        .replaceAll('../jobpulse-', `${resolve(RULES_DIR)}/jobpulse-`)
        .replace('summary: "Job etl: last run failed"', 'summary: "Job etl: wrong"');
      writeFileSync(join(tmp.path, 'mutant.yml'), text);
      const r = spawnSync('promtool', ['test', 'rules', join(tmp.path, 'mutant.yml')], { encoding: 'utf8' });
      const out = r.stdout + r.stderr;
      expect(out).not.toContain('no file match');
      expect(out).toContain('FAILED');
      expect(out).toContain('summary="Job etl: wrong"');
      expect(out).toContain('summary="Job etl: last run failed"');
      expect(r.status).not.toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

describe.skipIf(!hasBinary('promtool', 'prometheus'))('a real agent passes promtool check metrics', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeAll(async () => {
    a = await startAgent({ clock, config: { jobs: { overrides: { etl: { max_duration: '1h' } } } } });
    await a.push([
      { job_name: 'etl', run_id: 'e1', event: 'started' },
      { job_name: 'etl', run_id: 'e1', event: 'progress', progress: 40, records_processed: 1000 },
      { job_name: 'report', run_id: 'r1', event: 'started' },
    ]);
    clock.advance(60_000);
    await a.push([
      { job_name: 'report', run_id: 'r1', event: 'failed', error_message: 'boom', errors: 3 },
      { job_name: 'report', run_id: 'r2', event: 'started', retry_attempt: 1 },
      { job_name: 'backup', event: 'submitted' },
    ]);
  });
  afterAll(() => a.stop());

  it('exposes what the rules need, lint-clean', async () => {
    const text = (await a.get('/metrics')).text;
    expect(text).toContain('job_expected_duration_seconds{job_name="etl"} 3600');
    expect(text).toContain('job_status{job_name="backup",state="submitting"} 1');
    // JobpulseDiskFilling's inputs: the store's file system, as statfs(2) gives it.
    const avail = Number(/^jobpulse_store_filesystem_avail_bytes (\S+)$/m.exec(text)?.[1]);
    const size = Number(/^jobpulse_store_filesystem_size_bytes (\S+)$/m.exec(text)?.[1]);
    const fs = statfsSync(a.dir);
    expect(size).toBe(fs.blocks * fs.bsize);
    expect(avail).toBeGreaterThan(0);
    expect(avail).toBeLessThanOrEqual(size);
    expect(promtoolCheckMetrics(text)).toEqual({ output: '', status: 0 });
  });
});
