import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { applyEnv, loadConfig } from '../../src/config/load.js';
import { parseConfig } from '../../src/config/schema.js';
import { expectConfigIssue } from '../support/config-issues.js';

describe('config', () => {
  it('the commented example parses and equals the defaults', () => {
    const example = parse(readFileSync('jobpulse.example.yaml', 'utf8'));
    expect(parseConfig(example)).toEqual(parseConfig({}));
  });

  it('the example blocks under a map or list key load once uncommented', () => {
    // An operator deletes the comment mark of the block right below such a key; a key written
    // as `{}` or `[]` above its commented entries made that an invalid file.
    const lines = readFileSync('jobpulse.example.yaml', 'utf8').split('\n');
    let uncommented = 0;
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*(overrides|job_ttl|clusters):/.test(lines[i] as string)) continue;
      for (let j = i + 1; j < lines.length && /^\s*#/.test(lines[j] as string); j++, uncommented++) lines[j] = (lines[j] as string).replace('#', '');
    }
    expect(uncommented).toBeGreaterThan(10);
    const c = parseConfig(parse(lines.join('\n')));
    expect(c.jobs.overrides['nightly-etl']).toMatchObject({ max_duration: 3 * 3_600_000, schedule: '0 2 * * *', timezone: 'Europe/Berlin' });
    expect(c.pushgateway.job_ttl).toEqual({ 'hourly-report': 2 * 3_600_000 });
    expect(c.spark.clusters.map((k) => [k.name, k.kind])).toEqual([['prod-yarn', 'yarn']]);
  });

  it('takes JOBPULSE_PORT, JOBPULSE_DB and path overrides from the environment', () => {
    const c = loadConfig({ env: { JOBPULSE_PORT: '8123', JOBPULSE_DB: '/tmp/x.db', JOBPULSE_LIMITS__MAX_JOBS: '7' } });
    expect(c.http.port).toBe(8123);
    expect(c.store.sqlite.path).toBe('/tmp/x.db');
    expect(c.limits.max_jobs).toBe(7);
  });

  it.each([
    [{ http: { port: 'abc' } }, 'http.port', 'expected an integer from 0 to 65535'],
    [{ store: { sqlite: { durability: 'maybe' } } }, 'store.sqlite.durability', 'expected one of process, power'],
    [{ store: { sqlite: { cache_mb: 0 } } }, 'store.sqlite.cache_mb', 'expected an integer from 1'],
    [{ limits: { max_future_skew: 'soon' } }, 'limits.max_future_skew', 'expected a duration'],
    [{ htpp: { port: 1 } }, 'htpp', 'unknown key (did you mean "http"?)'],
    [{ http: { prot: 1 } }, 'http.prot', 'unknown key (did you mean "port"?)'],
    [{ limits: { max_job: 1 } }, 'limits.max_job', 'unknown key (did you mean "max_jobs"?)'],
    [{ zzz: 1 }, 'zzz', 'unknown key'],
    [{ jobs: { defaults: { timezone: 'Mars/Base' } } }, 'jobs.defaults.timezone', 'IANA time zone'],
    [{ retention: { schedule: 'every day' } }, 'retention.schedule', 'cron expression'],
    [{ jobs: { overrides: { nightly: { schedule: '0 2 * *' } } } }, 'jobs.overrides.nightly.schedule', 'expected a cron expression of 5 fields (minute hour day-of-month month day-of-week, or 6 with seconds first) like "0 2 * * *", got "0 2 * *" (4 fields)'],
    [{ jobs: { defaults: { schedule: '0 0 2 * * * *' } } }, 'jobs.defaults.schedule', 'of 5 fields'],
    [{ jobs: { overrides: { x: { schedule: '@minutely' } } } }, 'jobs.overrides.x.schedule', 'of 5 fields'],
    [{ jobs: { overrides: { x: { schedule: '0 25 * * *' } } } }, 'jobs.overrides.x.schedule', 'cron expression'],
    [{ retention: { jobs: '1d' } }, 'retention.jobs', 'at least retention.idle_job_ttl'],
    [{ jobs: { overrides: { x: 5 } } }, 'jobs.overrides.x', 'expected a map'],
    [{ detectors: { interval: '50ms' } }, 'detectors.interval', 'expected a duration of at least'],
  ])('names the key and what was expected: %j', (raw, path, message) => {
    expectConfigIssue(raw, path, message);
  });

  it.each(['0 2 * * *', '  */5  * * * 1-5 ', '*/2 * * * * *', '@daily', '@hourly'])('accepts the job schedule %j', (schedule) => {
    expect(parseConfig({ jobs: { overrides: { nightly: { schedule } } } }).jobs.overrides.nightly?.schedule).toBe(schedule);
  });

  it('reports a bad environment value under its config key', () => {
    expect(() => parseConfig(applyEnv({}, { JOBPULSE_PORT: '99999' }))).toThrow(/http\.port/);
  });

  it('refuses an environment variable that is no setting, suggesting the near one, and leaves the client commands\' alone', () => {
    expect(() => applyEnv({}, { JOBPULSE_PROT: '8080' })).toThrow(/JOBPULSE_PROT: unknown environment variable \(did you mean JOBPULSE_PORT\?\)/);
    expect(() => applyEnv({}, { JOBPULSE_VERBOSE: '1' })).toThrow(/JOBPULSE_VERBOSE: unknown environment variable; settings are JOBPULSE_PORT/);
    const client = { JOBPULSE_URL: 'http://x', JOBPULSE_TOKEN: 't', JOBPULSE_SPOOL: '/tmp/s', JOBPULSE_RETRIES: '2', JOBPULSE_BACKOFF_MS: '5', JOBPULSE_SPOOL_MAX_EVENTS: '9', JOBPULSE_SPOOL_MAX_BYTES: '9', JOBPULSE_CONFIG: 'x.yaml' };
    expect(applyEnv({}, client)).toEqual({});
  });
});
