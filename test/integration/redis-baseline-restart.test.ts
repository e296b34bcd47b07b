/**
 * On Redis the learned baseline (job_expected_duration_seconds) is read back from
 * succeeded:<job> at start; it must pick the successes memory kept (history/baselines.ts:
 * newest distinct (end, duration) pairs, ties by duration), or /metrics changes across a
 * restart with no event in between, and a replica started later disagrees with the others.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBaselines } from '../../src/history/baselines.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { createLogger } from '../../src/runtime/logger.js';
import { JobState } from '../../src/state/job-state.js';
import { createRedisStore } from '../../src/store/redis/redis-store.js';
import { hasBinary } from '../support/require-binary.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { startRedis, type TestRedis } from '../support/start-redis.js';

const has = hasBinary('redis-server', 'redis-server');
const T0 = Date.UTC(2026, 10, 23, 12);
const s = (t: number): number => (T0 + t * 1000) / 1000;

const expected = async (a: TestAgent, job: string): Promise<string | undefined> =>
  (await a.get('/metrics')).text.split('\n').find((l) => l.startsWith(`job_expected_duration_seconds{job_name="${job}"}`));

const success = (job: string, run: string, start: number, end: number): unknown[] => [
  { job_name: job, run_id: run, event: 'started', timestamp: s(start) },
  { job_name: job, run_id: run, event: 'succeeded', timestamp: s(end) },
];

describe.skipIf(!has)('learned baselines on Redis across a restart', () => {
  let redis: TestRedis;
  let a: TestAgent | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.cleanup());
  afterEach(async () => {
    await a?.stop();
    a = undefined;
  });

  /** Pushes, reads the baseline, restarts on the same keys, reads it again. */
  async function acrossRestart(job: string, batches: unknown[][]): Promise<[string | undefined, string | undefined]> {
    const clock = new ManualClock(T0 + 3_600_000);
    const config = {
      detectors: { baseline_runs: 5, baseline_min_samples: 1 },
      store: { kind: 'redis', redis: { url: redis.url, key_prefix: `t-${randomUUID()}:` } },
    };
    a = await startAgent({ clock, config });
    for (const b of batches) expect((await a.push(b)).status).toBe(200);
    const before = await expected(a, job);
    await a.stop();
    a = await startAgent({ clock, config });
    return [before, await expected(a, job)];
  }

  it('two runs ending in the same millisecond with the same duration hold one place in the window', async () => {
    const [before, after] = await acrossRestart('twins', [
      ...[100, 30, 40, 50].map((d, i) => success('twins', `r-${i}`, i * 200, i * 200 + d)),
      [...success('twins', 'a', 1000, 1020), ...success('twins', 'b', 1000, 1020)],
    ]);
    // Window [20, 30, 40, 50, 100]: p95 is the 100 s run. Read as the five newest runs, the
    // twins took two places and the 100 s run fell out (50).
    expect(before).toBe('job_expected_duration_seconds{job_name="twins"} 100');
    expect(after).toBe(before);
  });

  it('runs ending in the same millisecond are kept by duration, not by run id, where the window cuts', async () => {
    const [before, after] = await acrossRestart('ties', [
      success('ties', 'older', 0, 30),
      // Both end at 1100 and only one fits behind the four newer runs. Memory keeps the
      // longer; Redis orders equal scores by member, newest first read 'z' before 'a'.
      success('ties', 'a', 1000, 1100),
      success('ties', 'z', 1090, 1100),
      ...[5, 6, 7, 8].map((d, i) => success('ties', `newer-${i}`, 2000 + i * 100, 2000 + i * 100 + d)),
    ]);
    // Window [5, 6, 7, 8, 100]: p95 is 100 (with 'z' in place of 'a': 10).
    expect(before).toBe('job_expected_duration_seconds{job_name="ties"} 100');
    expect(after).toBe(before);
  });

  it('a success another replica commits while the start-up read is in flight is in the window', async () => {
    const clock = new ManualClock(T0 + 3_600_000);
    const key_prefix = `t-${randomUUID()}:`;
    a = await startAgent({ clock, config: { detectors: { baseline_runs: 5, baseline_min_samples: 1 }, store: { kind: 'redis', redis: { url: redis.url, key_prefix } } } });
    for (const [i, d] of [10, 20, 30, 40].entries()) expect((await a.push(success('late', `r-${i}`, i * 100, i * 100 + d))).status).toBe(200);
    // The run of a later commit, as the follower installs it: a 500 s success.
    const run = structuredClone(a.agent.state.getRun('r-3'));
    const job = structuredClone(a.agent.state.getJob('late'));
    if (!run || !job) throw new Error('r-3 not in memory');
    Object.assign(run, { run_id: 'r-late', started_at: T0 + 1_000_000, ended_at: T0 + 1_500_000 });
    job.latest_run_id = 'r-late';

    // What createAgent does on a replica starting while the others take pushes.
    const store = await createRedisStore({ url: redis.url, key_prefix });
    try {
      const state = new JobState(await store.loadState());
      const baselines = createBaselines({ store, state, runs: 5, minSamples: 1, logger: createLogger({ level: 'error' }) });
      const started = baselines.start();
      // Installed after the read has begun (it is waiting on Redis): not in what it reads.
      state.publish([job], [run]);
      await started;
      // Window [10, 20, 30, 40, 500]: p95 is the late run. Listening only after the read, the
      // replica missed it and kept 40 while the replica that took it had 500.
      expect(baselines.get('late')?.p95).toBe(500);
      baselines.stop();
    } finally {
      await store.close();
    }
  });
});
