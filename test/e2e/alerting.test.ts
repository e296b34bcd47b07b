/**
 * The whole chain: a real jobpulse → real Prometheus (scraping it, evaluating
 * rules/*.yml) → real Alertmanager → a webhook receiver in this test.
 *
 * The rules are the shipped files with two changes made on a copy, so that the suite
 * runs in seconds: every `for:` becomes 2s and every group evaluates every second.
 * The expressions, labels and annotations are the shipped ones. Each scenario prints its
 * time-to-alert (push → webhook) as a figure; it is not asserted tightly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ALL_METRICS } from '../../src/metrics/names.js';
import { freePort } from '../support/free-port.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

/** Whether this build has the detectors (the clock source); the scenarios use them when it does. */
const DETECTORS = ALL_METRICS.some((m) => m.name === 'job_missed_runs_total');

const has = hasBinary('prometheus', 'prometheus') && hasBinary('prometheus-alertmanager', 'prometheus-alertmanager');

interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
interface Received {
  at: number;
  alert: WebhookAlert;
}

/** A child process whose output is kept for the failure message. */
function run(cmd: string, args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  return { child, output: () => out.slice(-4000) };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, onTimeout = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${onTimeout()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The shipped rules with every `for:` shortened and every group evaluated each second. */
function fastRules(into: string): string[] {
  const files: string[] = [];
  for (const f of readdirSync('rules').filter((n) => n.endsWith('.yml'))) {
    const doc = parse(readFileSync(join('rules', f), 'utf8')) as { groups: { interval?: string; rules: { for?: string }[] }[] };
    for (const g of doc.groups) {
      g.interval = '1s';
      for (const r of g.rules) if (r.for !== undefined) r.for = '2s';
    }
    const out = join(into, f);
    writeFileSync(out, stringify(doc));
    files.push(out);
  }
  return files;
}

describe.skipIf(!has)('alerting end to end: jobpulse → Prometheus → Alertmanager → webhook', () => {
  const tmp = tempDir('jobpulse-alerting-');
  let agent: TestAgent;
  let prometheus: ReturnType<typeof run>;
  let alertmanager: ReturnType<typeof run>;
  let webhook: Server;
  let promUrl = '';
  const received: Received[] = [];
  const pushedAt = new Map<string, number>();
  const timeToAlert: Record<string, string> = {};

  const firstAlert = (alertname: string, jobName: string): Promise<Received> =>
    waitFor(
      `${alertname} for ${jobName} at the webhook`,
      () => received.find((r) => r.alert.status === 'firing' && r.alert.labels.alertname === alertname && r.alert.labels.job_name === jobName),
      45_000,
      () => `received: ${JSON.stringify(received.map((r) => r.alert.labels))}\nprometheus:\n${prometheus.output()}\nalertmanager:\n${alertmanager.output()}`,
    );

  beforeAll(async () => {
    const [amPort, promPort, hookPort] = [await freePort(), await freePort(), await freePort()];
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const at = Date.now();
        for (const alert of (JSON.parse(body) as { alerts: WebhookAlert[] }).alerts) received.push({ at, alert });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => webhook.listen(hookPort, '127.0.0.1', r));

    agent = await startAgent({
      config: {
        jobs: {
          overrides: {
            // flag (not time out) so the run stays running and overlong whether or not the
            // detectors are running in this build
            'e2e-overlong': { max_duration: '5m', max_duration_action: 'flag' },
            ...(DETECTORS
              ? {
                  'e2e-stuck': { stuck_after: '2s' },
                  // a slot every 2 seconds that no run ever covers
                  'e2e-missed': { schedule: '*/2 * * * * *', grace: '1s' },
                  'e2e-never-started': { submitting_timeout: '2s' },
                  'e2e-stale': { max_age: '5m' },
                }
              : {}),
          },
        },
        ...(DETECTORS ? { detectors: { interval: '250ms' } } : {}),
      },
    });

    const rulesDir = join(tmp.path, 'rules');
    mkdirSync(rulesDir);
    const ruleFiles = fastRules(rulesDir);
    writeFileSync(
      join(tmp.path, 'alertmanager.yml'),
      stringify({
        route: { receiver: 'test', group_by: ['alertname', 'job_name'], group_wait: '1s', group_interval: '1s', repeat_interval: '1h' },
        receivers: [{ name: 'test', webhook_configs: [{ url: `http://127.0.0.1:${hookPort}/`, send_resolved: true }] }],
      }),
    );
    writeFileSync(
      join(tmp.path, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ruleFiles,
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{ job_name: 'jobpulse', scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${agent.port}`] }] }],
      }),
    );
    alertmanager = run('prometheus-alertmanager', [
      `--config.file=${join(tmp.path, 'alertmanager.yml')}`,
      `--storage.path=${join(tmp.path, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      // empty: otherwise Alertmanager binds 0.0.0.0:9094 for cluster gossip
      '--cluster.listen-address=',
    ]);
    prometheus = run('prometheus', [
      `--config.file=${join(tmp.path, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(tmp.path, 'prom-data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    promUrl = `http://127.0.0.1:${promPort}`;
    await waitFor('alertmanager ready', async () => ((await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok ? true : undefined), 20_000, alertmanager.output);
    await waitFor('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 20_000, prometheus.output);

    // Warm: the target scraped and every rule group evaluated once, so the figures below
    // measure the chain in steady state rather than Prometheus' start-up.
    await waitFor(
      'prometheus scraping jobpulse and evaluating rules',
      async () => {
        const up = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('up{job="jobpulse"}')}`)).json()) as { data: { result: { value: [number, string] }[] } };
        const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { lastEvaluation: string }[] } };
        const evaluated = rules.data.groups.length > 0 && rules.data.groups.every((g) => !g.lastEvaluation.startsWith('0001'));
        return up.data.result[0]?.value[1] === '1' && evaluated ? true : undefined;
      },
      20_000,
      prometheus.output,
    );

    // The scenarios, all at once: each alert's clock starts at its push.
    const push = async (job: string, events: Record<string, unknown>[]) => {
      pushedAt.set(job, Date.now());
      const res = await agent.push(events.map((e) => ({ job_name: job, ...e })));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    await push('e2e-failed', [
      { run_id: 'f1', event: 'started' },
      { run_id: 'f1', event: 'failed', error_message: 'exit 1', exit_code: 1 },
    ]);
    // started 10 minutes ago, expected at most 5 minutes; alive (progress now), so not stuck
    await push('e2e-overlong', [
      { run_id: 'o1', event: 'started', timestamp: Math.floor(Date.now() / 1000) - 600 },
      { run_id: 'o1', event: 'progress', progress: 30 },
    ]);
    await push('e2e-healthy', [
      { run_id: 'h1', event: 'started' },
      { run_id: 'h1', event: 'progress', progress: 50 },
      { run_id: 'h1', event: 'succeeded' },
    ]);
    await push('e2e-stuck', [{ run_id: 's1', event: 'started' }]);
    if (DETECTORS) {
      // the real detectors judge it: stuck after 2s without a sign of life; missed slots
      pushedAt.set('e2e-missed', Date.now());
      // submitted, never started: timed out in submitting after 2s
      await push('e2e-never-started', [{ run_id: 'n1', event: 'submitted' }]);
      // last success 10 minutes ago, max_age 5 minutes
      const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
      await push('e2e-stale', [
        { run_id: 'a1', event: 'started', timestamp: tenMinutesAgo - 60 },
        { run_id: 'a1', event: 'succeeded', timestamp: tenMinutesAgo },
      ]);
    } else {
      // Without the detectors in this build the test plays the clock source, through the
      // same door (ingest), handing it the `stuck` verdict the detector would.
      pushedAt.set('e2e-stuck', Date.now());
      await agent.agent.ingest.ingest([{ job_name: 'e2e-stuck', run_id: 's1', event: 'stuck', source: 'clock' }]);
    }
  }, 60_000);

  afterAll(async () => {
    console.log(`time to alert (push → Alertmanager webhook), scrape 1s, eval 1s, for 2s, group_wait 1s:\n${JSON.stringify(timeToAlert, null, 2)}`);
    for (const p of [prometheus, alertmanager]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await new Promise((r) => p.child.once('exit', r));
      }
    }
    await new Promise((r) => webhook?.close(r));
    await agent?.stop();
    tmp.cleanup();
  }, 30_000);

  const SCENARIOS: [string, string, string, string][] = [
    ['a failed run', 'JobRunFailed', 'e2e-failed', 'critical'],
    ['an overlong run', 'JobRunTooLong', 'e2e-overlong', 'warning'],
    ['a stuck run', 'JobStuck', 'e2e-stuck', 'critical'],
    ...((DETECTORS
      ? [
          ['a missed schedule', 'JobMissedSchedule', 'e2e-missed', 'critical'],
          ['a run timed out in submitting', 'JobSubmitTimedOut', 'e2e-never-started', 'critical'],
          ['no success within max_age', 'JobNoRecentSuccess', 'e2e-stale', 'critical'],
        ]
      : []) as [string, string, string, string][]),
  ];
  it.each(SCENARIOS)('%s reaches the webhook as %s with job_name and severity', async (scenario, alertname, jobName, severity) => {
    const r = await firstAlert(alertname, jobName);
    timeToAlert[scenario] = `${((r.at - (pushedAt.get(jobName) ?? 0)) / 1000).toFixed(1)}s`;
    expect(r.alert.labels).toMatchObject({ alertname, job_name: jobName, severity });
    // Prometheus' own target labels are aggregated away: one alert per job, not per target
    expect(r.alert.labels.instance).toBeUndefined();
    expect(r.alert.annotations.summary).toContain(jobName);
    expect(r.alert.annotations.runbook_url).toBe(`docs/runbooks.md#${alertname.toLowerCase()}`);
    if (alertname === 'JobRunTooLong') expect(r.alert.annotations.description).toMatch(/running for 1\dm \d+s; expected at most 5m 0s/);
  }, 60_000);

  it('a healthy job raises nothing, and nothing else fires', async () => {
    // by now every scenario above has fired; the healthy job had the same time
    await firstAlert('JobRunFailed', 'e2e-failed');
    const firing = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
    const names = firing.data.alerts.map((a) => `${a.labels.alertname}/${a.labels.job_name ?? a.labels.instance}`).sort();
    expect(names).toEqual(SCENARIOS.map(([, alertname, job]) => `${alertname}/${job}`).sort());
    expect(received.filter((r) => r.alert.labels.job_name === 'e2e-healthy')).toEqual([]);
  }, 60_000);
});
