/**
 * The learned baseline (job_expected_duration_seconds) is fed in memory by the successes the
 * agent publishes and read back from the store at start; both must pick the same successes,
 * or /metrics changes across a restart with no event in between.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';
import { tempDir } from '../support/temp-dir.js';

const T0 = Date.UTC(2026, 10, 23, 12);
const config = { detectors: { baseline_runs: 5, baseline_min_samples: 1 } };

const expected = async (a: TestAgent, job: string): Promise<string | undefined> =>
  (await a.get('/metrics')).text.split('\n').find((l) => l.startsWith(`job_expected_duration_seconds{job_name="${job}"}`));

describe('learned baselines across a restart', () => {
  let a: TestAgent | undefined;
  const dir = tempDir();
  afterEach(async () => {
    await a?.agent.stop();
    a = undefined;
  });

  /** Pushes, reads the baseline, restarts on the same file, reads it again. */
  async function acrossRestart(job: string, batches: unknown[][]): Promise<[string | undefined, string | undefined]> {
    const clock = new ManualClock(T0 + 3_600_000);
    a = await startAgent({ clock, config, dir: dir.path });
    for (const b of batches) expect((await a.push(b)).status).toBe(200);
    const before = await expected(a, job);
    await a.agent.stop();
    a = await startAgent({ clock, config, dir: dir.path });
    return [before, await expected(a, job)];
  }

  it('a long run that started first and succeeded last is one of the newest successes after a restart too', async () => {
    const s = (t: number): number => (T0 + t * 1000) / 1000;
    const short = [1, 2, 3, 4, 5].map((i) => [
      { job_name: 'overlap', run_id: `short-${i}`, event: 'started', timestamp: s(i * 10) },
      { job_name: 'overlap', run_id: `short-${i}`, event: 'succeeded', timestamp: s(i * 10 + 5) },
    ]);
    const [before, after] = await acrossRestart('overlap', [
      [{ job_name: 'overlap', run_id: 'long', event: 'started', timestamp: s(0) }],
      ...short,
      [{ job_name: 'overlap', run_id: 'long', event: 'succeeded', timestamp: s(1000) }],
    ]);
    // The five newest successes by end: the long run (1000 s) and four short ones (5 s).
    expect(before).toBe('job_expected_duration_seconds{job_name="overlap"} 1000');
    expect(after).toBe(before);
  });

  it('two runs ending in the same millisecond with the same duration hold one place in the window, before and after a restart', async () => {
    const s = (t: number): number => (T0 + t * 1000) / 1000;
    const older = [100, 30, 40, 50].map((d, i) => [
      { job_name: 'twins', run_id: `r-${i}`, event: 'started', timestamp: s(i * 200) },
      { job_name: 'twins', run_id: `r-${i}`, event: 'succeeded', timestamp: s(i * 200 + d) },
    ]);
    const [before, after] = await acrossRestart('twins', [
      ...older,
      [
        { job_name: 'twins', run_id: 'a', event: 'started', timestamp: s(1000) },
        { job_name: 'twins', run_id: 'b', event: 'started', timestamp: s(1000) },
        { job_name: 'twins', run_id: 'a', event: 'succeeded', timestamp: s(1020) },
        { job_name: 'twins', run_id: 'b', event: 'succeeded', timestamp: s(1020) },
      ],
    ]);
    // Window [20, 30, 40, 50, 100]: p95 is the 100 s run.
    expect(before).toBe('job_expected_duration_seconds{job_name="twins"} 100');
    expect(after).toBe(before);
  });
});
