import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/runtime/clock.js';
import { startAgent, type TestAgent } from '../support/start-agent.js';

describe('max_age exposition', () => {
  let a: TestAgent;
  const clock = new ManualClock(Date.parse('2026-12-07T06:00:00Z'));
  beforeAll(async () => {
    a = await startAgent({ clock, config: { jobs: { overrides: { 'never-ok': { max_age: '1h' } } } } });
  });
  afterAll(() => a.stop());

  it('exposes when a job with max_age was first seen, so one that never succeeds can page', async () => {
    await a.push({ job_name: 'never-ok', event: 'failed' });
    clock.advance(60_000);
    await a.push({ job_name: 'never-ok', event: 'failed' });
    await a.push({ job_name: 'plain', event: 'failed' });
    const m = (await a.get('/metrics')).text;
    expect(m).toContain('job_max_age_seconds{job_name="never-ok"} 3600');
    expect(m).toContain(`job_first_seen_time_seconds{job_name="never-ok"} ${Date.parse('2026-12-07T06:00:00Z') / 1000}`);
    expect(m).not.toContain('job_last_success_time_seconds{job_name="never-ok"}');
    // Only next to max_age: no extra series per job otherwise.
    expect(m).not.toContain('job_first_seen_time_seconds{job_name="plain"}');
  });
});
