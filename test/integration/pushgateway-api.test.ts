import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Gauge, Counter, Pushgateway, Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeProtobufDelimited, PROTOBUF_CONTENT_TYPE } from '../../src/pushgateway/parse-protobuf.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';
import Database from 'better-sqlite3';

const run = promisify(execFile);
import { existsSync } from 'node:fs';
// Debian's interpreter carries python3-prometheus-client; a pyenv shim earlier on PATH may not.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPython = hasBinary(PYTHON, 'python3-prometheus-client');

/** Sample lines of pushed groups (the Pushgateway part of /metrics), without HELP/TYPE. */
const samples = (text: string, names: string[]): string[] =>
  text.split('\n').filter((l) => names.some((n) => l.startsWith(`${n}{`) || l.startsWith(`${n} `)));

const send = (a: TestAgent, method: string, path: string, body?: string | Uint8Array, headers: Record<string, string> = {}) =>
  fetch(`${a.url}${path}`, { method, body, headers });

describe('Pushgateway API', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  beforeEach(async () => {
    a = await startAgent({ clock, config: { pushgateway: { job_ttl: { shortlived: '1h' } } } });
  });
  afterEach(() => a.stop());

  it('PUT replaces the group, POST replaces only the names it sends, DELETE removes it', async () => {
    expect((await send(a, 'PUT', '/metrics/job/j1/instance/i1', '# TYPE a counter\na 1\nb{x="y"} 2\n')).status).toBe(200);
    expect((await send(a, 'POST', '/metrics/job/j1/instance/i1', 'b{x="z"} 3\n')).status).toBe(200);
    let m = (await a.get('/metrics')).text;
    expect(samples(m, ['a', 'b'])).toEqual(['a{instance="i1",job="j1"} 1', 'b{instance="i1",job="j1",x="z"} 3']);
    expect(m).toContain('# TYPE a counter\n');
    expect(m).toContain(`push_time_seconds{instance="i1",job="j1"} 1.7954352e+09`);
    expect(m).toContain('push_failure_time_seconds{instance="i1",job="j1"} 0');
    expect((await send(a, 'PUT', '/metrics/job/j1/instance/i1', 'c 4\n')).status).toBe(200);
    m = (await a.get('/metrics')).text;
    expect(samples(m, ['a', 'b', 'c'])).toEqual(['c{instance="i1",job="j1"} 4']);
    expect((await send(a, 'DELETE', '/metrics/job/j1/instance/i1')).status).toBe(202);
    m = (await a.get('/metrics')).text;
    expect(samples(m, ['c', 'push_time_seconds'])).toEqual([]);
  });

  it.each([
    ['a type that contradicts another group', 'PUT', '/metrics/job/other', '# TYPE a gauge\na 1\n', /is not a COUNTER/],
    ['a timestamp', 'PUT', '/metrics/job/other', 'x 1 1234\n', /must not have timestamps/],
    ['a sample pushed twice', 'PUT', '/metrics/job/other', 'g 1\ng 2\n', /same name and label values/],
    ['a syntax error', 'PUT', '/metrics/job/other', 'd{ 1\n', /line 1/],
    ['an odd label path', 'PUT', '/metrics/job/other/foo', 'd 1\n', /odd number of components/],
    ['an improper label name', 'PUT', '/metrics/job/other/0foo/x', 'd 1\n', /improper label name/],
  ])('refuses %s with 400 and says why', async (_what, method, path, body, why) => {
    await send(a, 'PUT', '/metrics/job/first', '# TYPE a counter\na 1\n');
    const res = await send(a, method, path, body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(why);
    expect(samples((await a.get('/metrics')).text, ['a'])).toEqual(['a{instance="",job="first"} 1']);
  });

  it('of two concurrent pushes giving one name two types, exactly one is accepted', async () => {
    // Sent together, both are checked while neither is durable: each must count against the other
    // (the real Pushgateway 1.5.1 refused one of each of 50 such pairs; jobpulse accepted both in 32).
    for (let i = 0; i < 20; i++) {
      const [g, c] = await Promise.all([
        send(a, 'PUT', `/metrics/job/race-${i}-a`, `# TYPE race_${i} gauge\nrace_${i} 1\n`),
        send(a, 'PUT', `/metrics/job/race-${i}-b`, `# TYPE race_${i} counter\nrace_${i} 2\n`),
      ]);
      expect([g.status, c.status].sort()).toEqual([200, 400]);
    }
    const m = (await a.get('/metrics')).text;
    for (let i = 0; i < 20; i++) expect(samples(m, [`race_${i}`])).toHaveLength(1);
  });

  it('records a refused push as push_failure_time_seconds and keeps the old metrics', async () => {
    await send(a, 'PUT', '/metrics/job/k', 'v 1\n');
    clock.advance(1000);
    expect((await send(a, 'PUT', '/metrics/job/k', 'v 1 99\n')).status).toBe(400);
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('v{instance="",job="k"} 1');
    expect(m).toContain('push_failure_time_seconds{instance="",job="k"} 1.795435201e+09');
    const list = (await a.get('/api/v1/metrics')).body;
    expect(list.status).toBe('success');
    expect(list.data[0].labels).toEqual({ job: 'k' });
    expect(list.data[0].last_push_successful).toBe(false);
    expect(list.data[0].v.metrics).toEqual([{ labels: { instance: '', job: 'k' }, value: '1' }]);
  });

  it('refuses a histogram whose grouping key or protobuf labels hold `le` (the Pushgateway would expose two `le` labels)', async () => {
    const res = await send(a, 'PUT', '/metrics/job/hle/le/1', '# TYPE hle histogram\nhle_bucket{le="1"} 1\nhle_count 1\n');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/histogram "hle" must not have an explicit "le" label/);
    const pb = encodeProtobufDelimited([{ name: 'hle2', type: 4, metric: [{ label: [{ name: 'le', value: 'x' }], histogram: { sample_count: 1, sample_sum: 1 } }] }]);
    expect((await send(a, 'PUT', '/metrics/job/hle2', pb, { 'content-type': PROTOBUF_CONTENT_TYPE })).status).toBe(400);
    const m = (await a.get('/metrics')).text;
    expect(m).not.toMatch(/^hle/m);
    // Refused after parsing, like the Pushgateway's consistency check: recorded on the group.
    expect(m).toMatch(/^push_failure_time_seconds\{instance="",job="hle",le="1"\} [1-9]/m);
  });

  it('decodes @base64 (padding optional, job too) and percent-encoded values', async () => {
    expect((await send(a, 'PUT', '/metrics/job@base64/L3Zhci90bXA/path@base64/=', 'e 1\n')).status).toBe(200);
    expect((await send(a, 'PUT', '/metrics/job/j9/path/a%2Fb', 'f 1\n')).status).toBe(200);
    expect((await send(a, 'PUT', '/metrics/job/j10/path@base64/YS9i', 'f2 1\n')).status).toBe(200);
    const m = (await a.get('/metrics')).text;
    expect(samples(m, ['e', 'f', 'f2'])).toEqual(['e{instance="",job="/var/tmp",path=""} 1', 'f{instance="",job="j9",path="a/b"} 1', 'f2{instance="",job="j10",path="a/b"} 1']);
  });

  it('takes gzip bodies and the delimited protobuf format', async () => {
    const pb = encodeProtobufDelimited([
      { name: 'pb_total', help: 'from protobuf', type: 0, metric: [{ label: [{ name: 'k', value: 'v' }], counter: { value: 7 } }] },
      { name: 'pb_hist', type: 4, metric: [{ histogram: { sample_count: 3, sample_sum: 4.5, bucket: [{ upper_bound: 1, cumulative_count: 2 }] } }] },
    ]);
    expect((await send(a, 'PUT', '/metrics/job/pb', gzipSync(pb), { 'content-type': PROTOBUF_CONTENT_TYPE, 'content-encoding': 'gzip' })).status).toBe(200);
    expect((await send(a, 'PUT', '/metrics/job/gz', gzipSync('gz_value 3\n'), { 'content-encoding': 'gzip' })).status).toBe(200);
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('# HELP pb_total from protobuf\n# TYPE pb_total counter\npb_total{instance="",job="pb",k="v"} 7\n');
    expect(samples(m, ['pb_hist_bucket', 'pb_hist_sum', 'pb_hist_count'])).toEqual([
      'pb_hist_bucket{instance="",job="pb",le="1"} 2',
      'pb_hist_bucket{instance="",job="pb",le="+Inf"} 3',
      'pb_hist_sum{instance="",job="pb"} 4.5',
      'pb_hist_count{instance="",job="pb"} 3',
    ]);
    expect(samples(m, ['gz_value'])).toEqual(['gz_value{instance="",job="gz"} 3']);
    const om = (await a.get('/metrics', { accept: 'application/openmetrics-text' })).text;
    expect(om).toContain('# TYPE pb counter\npb_total{instance="",job="pb",k="v"} 7\n');
    expect(om).toContain('# TYPE gz_value unknown\n');
  });

  it('keeps groups across a restart (durable before the 2xx)', async () => {
    await send(a, 'PUT', '/metrics/job/keep/instance/x', '# HELP kept A kept value.\n# TYPE kept gauge\nkept NaN\nkept2 +Inf\n');
    const before = samples((await a.get('/metrics')).text, ['kept', 'kept2', 'push_time_seconds']);
    const dir = a.dir;
    await a.agent.stop();
    a = await startAgent({ clock, dir });
    expect(samples((await a.get('/metrics')).text, ['kept', 'kept2', 'push_time_seconds'])).toEqual(before);
    expect(before).toContain('kept{instance="x",job="keep"} NaN');
  });

  it('wipes every group behind the admin token', async () => {
    const b = await startAgent({ clock, config: { auth: { admin_tokens: ['adm'], write_tokens: ['wr'] } } });
    try {
      expect((await send(b, 'PUT', '/metrics/job/w', 'w 1\n', { authorization: 'Bearer wr' })).status).toBe(200);
      expect((await send(b, 'PUT', '/api/v1/admin/wipe', undefined, { authorization: 'Bearer wr' })).status).toBe(401);
      expect((await send(b, 'PUT', '/api/v1/admin/wipe', undefined, { authorization: 'Bearer adm' })).status).toBe(202);
      expect(samples((await b.get('/metrics')).text, ['w'])).toEqual([]);
    } finally {
      await b.stop();
    }
  });

  it('expires groups after their TTL and counts them', async () => {
    await send(a, 'PUT', '/metrics/job/shortlived', 's 1\n');
    await send(a, 'PUT', '/metrics/job/forever', 's2 1\n');
    clock.advance(3_600_001);
    const m = (await a.get('/metrics')).text;
    expect(samples(m, ['s', 's2'])).toEqual(['s2{instance="",job="forever"} 1']);
    expect((await a.get('/metrics')).text).toContain('jobpulse_pushgateway_groups_expired_total 1');
  });

  it('bridges batch-job metrics into runs without duplicating them on re-push', async () => {
    const t0 = clock.now() / 1000;
    await send(a, 'PUT', '/metrics/job/backup', `backup_start_time_seconds ${t0}\nbackup_progress_percent 40\nbackup_last_success_time_seconds ${t0 - 3600}\n`);
    let job = (await a.get('/api/v1/jobs/backup')).body;
    expect(job.latest_run?.state ?? job.run?.state ?? job.state).toBe('running');
    clock.advance(90_000);
    const done = `backup_start_time_seconds ${t0}\nbackup_last_success_time_seconds ${t0 + 90}\n`;
    await send(a, 'PUT', '/metrics/job/backup', done);
    await send(a, 'PUT', '/metrics/job/backup', done);
    const runs = (await a.get('/api/v1/jobs/backup/runs')).body.runs;
    expect(runs).toHaveLength(1);
    expect(runs[0].state).toBe('succeeded');
    expect(runs[0].source).toBe('pushgateway');
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_duration_seconds{job_name="backup"} 90');
    job = (await a.get('/api/v1/jobs/backup')).body;
    expect(JSON.stringify(job)).toContain('succeeded');
  });

  it.each<[string, string]>([
    ['# TYPE job_runs_total counter\njob_runs_total 3\n', '"job_runs_total" collides with "job_runs_total"'],
    ['job_duration_seconds 12\n', '"job_duration_seconds" collides with "job_duration_seconds"'],
    ['# TYPE jobpulse_events untyped\njobpulse_events 1\n', '"jobpulse_events" collides with "jobpulse_events"'],
    ['# TYPE job_run_duration_seconds_bucket gauge\njob_run_duration_seconds_bucket 1\n', 'collides with "job_run_duration_seconds_bucket"'],
  ])('refuses a push of a name jobpulse exposes itself (a second TYPE line would break the scrape): %j', async (body, detail) => {
    const res = await send(a, 'PUT', '/metrics/job/own-names', body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain(detail);
    const m = (await a.get('/metrics')).text;
    expect(m.match(/^# TYPE job_runs_total /gm)).toHaveLength(1);
    // The refused push is recorded on the group (push_failure_time_seconds), as the Pushgateway does; no pushed sample shows.
    expect(m.split('\n').filter((l) => l.includes('job="own-names"') && !l.startsWith('push_'))).toEqual([]);
  });

  it('keeps a push whose job label would make a job name /push refuses, and derives no runs from it', async () => {
    const t0 = clock.now() / 1000;
    const res = await send(a, 'PUT', '/metrics/job/bad%0Aname', `odd_start_time_seconds ${t0}\n`);
    expect(res.status).toBe(200);
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('odd_start_time_seconds{instance="",job="bad\\nname"}');
    expect(m).not.toContain('job_name="bad');
    expect((await a.get('/api/v1/jobs')).body.jobs.map((j: { job_name: string }) => j.job_name)).not.toContain('bad\nname');
    expect(m).toMatch(/jobpulse_pushgateway_bridge_failures_total 1/);
    expect(a.logs).toContainEqual(expect.objectContaining({ msg: 'lifecycle bridge: job name refused; the push is kept without runs', problem: 'must not contain control characters' }));
  });

  describe('prom-client Pushgateway', () => {
    it('push, pushAdd and delete', async () => {
      const reg = new Registry();
      const g = new Gauge({ name: 'pc_last_success_time_seconds', help: 'last success', registers: [reg] });
      const c = new Counter({ name: 'pc_records_total', help: 'records', registers: [reg] });
      g.set(1_700_000_000);
      c.inc(5);
      const gw = new Pushgateway(a.url, {}, reg);
      await gw.push({ jobName: 'pc', groupings: { instance: 'host/1', empty: 'x' } });
      let m = (await a.get('/metrics')).text;
      expect(samples(m, ['pc_last_success_time_seconds', 'pc_records_total'])).toEqual([
        'pc_last_success_time_seconds{empty="x",instance="host/1",job="pc"} 1.7e+09',
        'pc_records_total{empty="x",instance="host/1",job="pc"} 5',
      ]);
      const reg2 = new Registry();
      new Gauge({ name: 'pc_extra', help: 'extra', registers: [reg2] }).set(2);
      await new Pushgateway(a.url, {}, reg2).pushAdd({ jobName: 'pc', groupings: { instance: 'host/1', empty: 'x' } });
      m = (await a.get('/metrics')).text;
      expect(samples(m, ['pc_extra', 'pc_records_total'])).toHaveLength(2);
      await gw.delete({ jobName: 'pc', groupings: { instance: 'host/1', empty: 'x' } });
      expect(samples((await a.get('/metrics')).text, ['pc_extra', 'pc_records_total'])).toEqual([]);
    });
  });

  describe.skipIf(!hasPython)('Python prometheus_client', () => {
    it('push_to_gateway, pushadd_to_gateway and delete_from_gateway', async () => {
      const py = (code: string) =>
        run(PYTHON, ['-c', `from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, pushadd_to_gateway, delete_from_gateway\n${code}`]);
      const gw = `127.0.0.1:${a.port}`;
      await py(
        `r = CollectorRegistry()\ng = Gauge('job_last_success_unixtime', 'Last time a batch job successfully finished', registry=r)\ng.set(1700000000)\npush_to_gateway('${gw}', job='batch', registry=r, grouping_key={'path': '/var/lib', 'empty': ''})`,
      );
      let m = (await a.get('/metrics')).text;
      expect(samples(m, ['job_last_success_unixtime'])).toEqual(['job_last_success_unixtime{empty="",instance="",job="batch",path="/var/lib"} 1.7e+09']);
      await py(`r = CollectorRegistry()\nGauge('py_more', 'more', registry=r).set(3)\npushadd_to_gateway('${gw}', job='batch', registry=r, grouping_key={'path': '/var/lib', 'empty': ''})`);
      m = (await a.get('/metrics')).text;
      expect(samples(m, ['job_last_success_unixtime', 'py_more'])).toHaveLength(2);
      const runs = (await a.get('/api/v1/jobs/batch%2Fempty%3D%2Fpath%3D%2Fvar%2Flib/runs')).body.runs;
      expect(runs?.[0]?.state).toBe('succeeded');
      await py(`delete_from_gateway('${gw}', job='batch', grouping_key={'path': '/var/lib', 'empty': ''})`);
      expect(samples((await a.get('/metrics')).text, ['job_last_success_unixtime', 'py_more'])).toEqual([]);
    });
  });
});

describe('Pushgateway API at shutdown', () => {
  it('finishes the group writes of pushes whose clients left before the store closes', async () => {
    const dir = tempDir();
    try {
      const a = await startAgent({ dir: dir.path });
      // Another connection holds SQLite's write lock: the writer thread's first group write
      // waits on it, and the pushes behind it queue up in the API's group commit.
      const admin = new Database(`${dir.path}/jobpulse.db`);
      admin.exec('BEGIN IMMEDIATE');
      const clients = Array.from({ length: 40 }, (_, i) => {
        const ac = new AbortController();
        const sent = fetch(`${a.url}/metrics/job/leaver/instance/i${i}`, { method: 'PUT', body: `x ${i}\n`, signal: ac.signal }).catch(() => undefined);
        return { ac, sent };
      });
      // Give the agent time to read every request (the writes then wait on the lock).
      await new Promise((r) => setTimeout(r, 300));
      // The clients go away; the agent is stopped while their writes still wait.
      for (const c of clients) c.ac.abort();
      await Promise.all(clients.map((c) => c.sent));
      const stopping = a.agent.stop();
      await new Promise((r) => setTimeout(r, 200));
      admin.exec('COMMIT');
      admin.close();
      await stopping;
      expect(a.logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([]);

      const b = await startAgent({ dir: dir.path });
      try {
        const groups = (await b.get('/api/v1/metrics')).body as { data: { labels: Record<string, string> }[] };
        expect(groups.data.filter((g) => g.labels.job === 'leaver')).toHaveLength(40);
      } finally {
        await b.agent.stop();
      }
    } finally {
      dir.cleanup();
    }
  });
});
