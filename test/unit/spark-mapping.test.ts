import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSparkConfig } from '../../src/config/spark-config.js';
import { parseConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/domain/errors.js';
import type { Run } from '../../src/domain/run.js';
import { draftsFor } from '../../src/sources/spark/drafts.js';
import { PollError } from '../../src/sources/spark/http-client.js';
import { parseLivyBatch } from '../../src/sources/spark/livy.js';
import { parseApplication } from '../../src/sources/spark/monitoring-api.js';
import { taskProgress, type SparkObservation } from '../../src/sources/spark/observation.js';
import { parseMasterState } from '../../src/sources/spark/standalone-master.js';
import { parseSubmissionStatus } from '../../src/sources/spark/standalone-rest.js';
import { parseYarnApp } from '../../src/sources/spark/yarn.js';

const fx = (path: string): unknown => JSON.parse(readFileSync(`test/fixtures/spark/${path}`, 'utf8'));

describe('standalone REST driverState → observed state (real fixture bodies)', () => {
  it.each([
    ['constructed_status_submitted.json', 'submitting', undefined],
    ['constructed_status_running.json', 'running', undefined],
    ['status_response_running.protocol-suite.json', 'running', undefined],
    ['constructed_status_relaunching.json', 'running', undefined],
    ['constructed_status_finished.json', 'succeeded', undefined],
    ['constructed_status_failed.json', 'failed', undefined],
    ['constructed_status_error.json', 'failed', 'Exception from the cluster'],
    ['constructed_status_killed.json', 'cancelled', undefined],
    ['constructed_status_killed_before_scheduling.json', 'cancelled', undefined],
    ['constructed_status_unknown.json', 'unknown', undefined],
    ['constructed_status_master_not_alive.json', 'unknown', 'not alive'],
  ])('%s → %s', (file, state, message) => {
    const obs = parseSubmissionStatus(fx(`standalone-rest/${file}`), 'driver-x');
    expect(obs.state).toBe(state);
    if (message) expect(obs.error_message).toContain(message);
  });

  it('"not found" is HTTP 200 with success:false: a not_found poll, not a state', () => {
    expect(() => parseSubmissionStatus(fx('standalone-rest/constructed_status_not_found.json'), 'x')).toThrow(PollError);
  });
});

describe('YARN state + finalStatus', () => {
  it.each([
    ['constructed_app_accepted.json', 'queued', 'ACCEPTED/UNDEFINED'],
    ['constructed_app_running.json', 'running', 'RUNNING/UNDEFINED'],
    ['constructed_app_finished_succeeded.json', 'succeeded', 'FINISHED/SUCCEEDED'],
    ['cluster_app_finished_succeeded.json', 'succeeded', 'FINISHED/SUCCEEDED'],
    ['constructed_app_finished_failed.json', 'failed', 'FINISHED/FAILED'],
    ['constructed_app_failed.json', 'failed', 'FAILED/FAILED'],
    ['constructed_app_killed.json', 'cancelled', 'KILLED/KILLED'],
  ])('%s → %s', (file, state, native) => {
    const obs = parseYarnApp((fx(`yarn/${file}`) as { app: unknown }).app);
    expect(obs.state).toBe(state);
    expect(obs.native).toBe(native);
    // YARN's 10 % for a running Spark app is not progress.
    expect(obs.progress).toBeUndefined();
  });

  it('keeps diagnostics and YARN times on a failure', () => {
    const obs = parseYarnApp((fx('yarn/constructed_app_finished_failed.json') as { app: unknown }).app);
    expect(obs.error_message).toContain('input partition dt=2024-05-13 is empty');
    expect(obs.started_at).toBe(1715652880125);
    expect(obs.ended_at).toBe(1715652942002);
  });
});

describe('Livy batch states', () => {
  const running = fx('livy/constructed_batch_running.json') as Record<string, unknown>;
  it.each([
    ['constructed_batch_post_response_starting.json', 'submitting'],
    ['constructed_batch_running.json', 'running'],
    ['constructed_batch_success.json', 'succeeded'],
    ['constructed_batch_dead.json', 'failed'],
    ['constructed_batch_killed.json', 'cancelled'],
  ])('%s → %s', (file, state) => {
    expect(parseLivyBatch(fx(`livy/${file}`)).state).toBe(state);
  });
  it.each([
    ['not_started', 'queued'],
    ['recovering', 'unknown'],
    ['shutting_down', 'running'],
    ['error', 'failed'],
    ['something-new', 'unknown'],
  ])('derived variant state %s → %s', (native, state) => {
    expect(parseLivyBatch({ ...running, state: native }).state).toBe(state);
  });
  it('takes the error message from the YARN diagnostics in the log tail', () => {
    expect(parseLivyBatch(fx('livy/constructed_batch_dead.json')).error_message).toBe(
      'User class threw exception: java.lang.IllegalStateException: input partition dt=2024-05-13 is empty',
    );
  });
});

describe('standalone master /json', () => {
  it('maps apps and drivers, WAITING is queued, driver starttime strings are times', () => {
    const { byId, active, status } = parseMasterState(fx('standalone-master/constructed_master_state.json'));
    expect(status).toBe('ALIVE');
    expect(active.map((a) => [a.id, a.state])).toEqual([
      ['app-20231124153540-0001', 'running'],
      ['app-20231124154045-0002', 'queued'],
    ]);
    expect(byId.get('app-20231124151214-0001')?.state).toBe('failed');
    expect(byId.get('app-20231124152001-0003')?.state).toBe('cancelled');
    expect(byId.get('app-20231124150102-0000')).toMatchObject({ state: 'succeeded', started_at: 1700838062518, ended_at: 1700838062518 + 161492 });
    expect(byId.get('driver-20231124154041-0002')).toMatchObject({ state: 'submitting', submitted_at: 1700840441877 });
    expect(byId.get('driver-20231124152500-0004')?.state).toBe('failed');
  });
});

describe('monitoring API', () => {
  it('a running app gets progress from its jobs, as the Spark UI computes it', () => {
    const app = (fx('monitoring-api/running_app_list_json_expectation.json') as unknown[])[0];
    const obs = parseApplication(app, fx('monitoring-api/constructed_running_job_list.json'));
    expect(obs).toMatchObject({ state: 'running', progress: 47.3, started_at: 1547788454200 });
    expect(obs.ended_at).toBeUndefined();
  });
  it.each([
    ['job_list_json_expectation.json', 96.9],
    ['constructed_running_job_list.json', 47.3],
    ['succeeded_failed_job_list_json_expectation.json', 96.9],
    ['succeeded_failed_job_list_json_expectation.legacy.json', 96.9],
    // Legacy accounting: numSkippedTasks = numTasks → zero denominator → no progress.
    ['succeeded_job_list_json_expectation.json', undefined],
  ])('progress of %s = %s', (file, p) => {
    expect(taskProgress(fx(`monitoring-api/${file}`) as never[])).toBe(p);
  });
  it('a completed app with exitCode ≠ 0 failed; without exitCode a FAILED job decides', () => {
    expect(parseApplication(fx('monitoring-api/one_app_with_non_zero_exit_code_json_expectation.json'), [])).toMatchObject({ state: 'failed', exit_code: 1 });
    expect(parseApplication(fx('monitoring-api/one_app_json_expectation.json'), fx('monitoring-api/job_list_json_expectation.json')).state).toBe('failed');
    expect(parseApplication(fx('monitoring-api/one_app_multi_attempt_json_expectation.json'), fx('monitoring-api/job_list_from_multi_attempt_app_json_1__expectation.json'))).toMatchObject({
      state: 'succeeded',
      started_at: 1426633910242,
      ended_at: 1426633945177,
    });
  });
  it('tolerates missing fields and ignores unknown ones', () => {
    expect(parseApplication({ id: 'a', attempts: [{ completed: false, brandNew: 1 }] }, [{ numTasks: 4 }]).state).toBe('running');
    expect(parseApplication({ id: 'a' }).state).toBe('unknown');
  });
});

describe('observation + run → events (emit only changes)', () => {
  const ctx = { cluster: 'c1', job_name: 'etl', run_id: 'r1', now: 5_000, maxErrorMessageLength: 20 };
  const run = (state: Run['state'], progress?: number): Run =>
    ({ run_id: 'r1', job_name: 'etl', state, source: 'push', created_at: 0, last_event_at: 0, labels: {}, stuck: false, overdue: false, event_count: 1, progress }) as Run;
  const obs = (o: Partial<SparkObservation>): SparkObservation => ({ id: 'app-1', state: 'running', native: 'X', ...o });
  it.each<[string, SparkObservation, Run | undefined, string[]]>([
    ['queued, new run', obs({ state: 'queued' }), undefined, ['queued']],
    ['submitting after queued', obs({ state: 'submitting' }), run('queued'), ['submitted']],
    ['submitting again', obs({ state: 'submitting' }), run('submitting'), []],
    ['running from submitting', obs({ started_at: 1000 }), run('submitting'), ['started']],
    ['running, same progress', obs({ progress: 40 }), run('running', 40), []],
    ['running, more progress', obs({ progress: 47.3 }), run('running', 40), ['progress']],
    ['unknown never emits', obs({ state: 'unknown' }), run('running'), []],
    ['first seen finished', obs({ state: 'succeeded', started_at: 1000, ended_at: 2000 }), undefined, ['started', 'succeeded']],
    ['first seen finished, end unknown (master driver): no start, so no invented duration', obs({ state: 'succeeded', started_at: 1000 }), undefined, ['succeeded']],
    ['failed while running', obs({ state: 'failed', ended_at: 2000, error_message: 'x'.repeat(50) }), run('running'), ['failed']],
    ['already terminal', obs({ state: 'failed' }), run('cancelled'), []],
  ])('%s', (_name, o, r, events) => {
    const drafts = draftsFor(o, r, ctx);
    expect(drafts.map((d) => d.event)).toEqual(events);
    for (const d of drafts) expect(d.source).toBe('spark:c1');
  });
  it('ids are deterministic, API times are used, long messages are clipped', () => {
    const a = draftsFor(obs({ state: 'failed', started_at: 1000, ended_at: 2000, error_message: 'y'.repeat(50) }), run('submitting'), ctx);
    const b = draftsFor(obs({ state: 'failed', started_at: 1000, ended_at: 2000, error_message: 'y'.repeat(50) }), run('submitting'), ctx);
    expect(a.map((d) => d.event_id)).toEqual(b.map((d) => d.event_id));
    expect(a.map((d) => d.timestamp)).toEqual([1000, 2000]);
    expect(a[1]?.error_message).toMatch(/^y{20}…\[truncated 30 chars\]$/);
    expect(draftsFor(obs({ progress: 50 }), run('running', 1), ctx)[0]?.event_id).toBe('spark:c1:r1:app-1:progress:50');
  });
  it('another run on a reused cluster id gets events of its own; a run id at the id limit is hashed', () => {
    const done = obs({ state: 'succeeded', ended_at: 2000 });
    const first = draftsFor(done, run('running'), ctx)[0]?.event_id;
    const second = draftsFor(done, run('running'), { ...ctx, run_id: 'r2' })[0]?.event_id;
    expect(first).toBe('spark:c1:r1:app-1:succeeded');
    expect(second).not.toBe(first);
    const long = draftsFor(done, run('running'), { ...ctx, run_id: 'r'.repeat(200) })[0]?.event_id;
    expect(long).toMatch(/^spark:[0-9a-f]{64}$/);
  });
});

describe('spark config', () => {
  it('fills defaults', () => {
    const c = parseConfig({ spark: { clusters: [{ name: 'prod', kind: 'yarn', base_url: 'http://rm:8088' }] } });
    expect(c.spark.clusters[0]).toMatchObject({ interval: 15_000, max_concurrent: 5, request_timeout: 10_000, max_response_bytes: 64 * 1024 * 1024, discovery: { enabled: false, job_name_field: 'name' } });
  });
  it.each([
    [[{ name: 'a b', kind: 'yarn', base_url: 'http://x' }], 'spark.clusters[0].name'],
    [[{ name: 'a', kind: 'mesos', base_url: 'http://x' }], 'spark.clusters[0].kind'],
    [[{ name: 'a', kind: 'yarn', base_url: 'ftp://x' }], 'spark.clusters[0].base_url'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x', interval: 'soon' }], 'spark.clusters[0].interval'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x', max_concurrent: 0 }], 'spark.clusters[0].max_concurrent'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x', max_response_bytes: 100 }], 'spark.clusters[0].max_response_bytes'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x', colour: 'red' }], 'spark.clusters[0].colour'],
    [[{ name: 'a', kind: 'standalone-rest', base_url: 'http://x', discovery: { enabled: true } }], 'spark.clusters[0].discovery.enabled'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x', discovery: { job_name: { strip: '(' } } }], 'spark.clusters[0].discovery.job_name.strip'],
    [[{ name: 'a', kind: 'yarn', base_url: 'http://x' }, { name: 'a', kind: 'livy', base_url: 'http://y' }], 'spark.clusters[1].name'],
  ])('names the key: %j → %s', (clusters, path) => {
    try {
      parseConfig({ spark: { clusters } });
      expect.unreachable('accepted a bad spark config');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.path)).toContain(path);
    }
  });
  it('an unknown key under spark is reported', () => {
    expect(() => parseConfig({ spark: { clusterz: [] } })).toThrow(/spark\.clusterz/);
    const issues: { path: string; message: string }[] = [];
    expect(parseSparkConfig('nope', issues).clusters).toEqual([]);
    expect(issues[0]?.path).toBe('spark.clusters');
  });
});
