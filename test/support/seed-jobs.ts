/**
 * Seeds a real agent with a job in every run state: client states over /push, detector
 * states (timed_out, crashed, stuck) through ingest with source `clock`, the way the
 * detectors deliver them. Shared by the status page's fetch and browser suites.
 */
import type { ManualClock } from '../../src/runtime/clock.js';
import type { TestAgent } from './start-agent.js';

export const HOSTILE = '<script>alert(1)</script>';

export async function seedEveryState(a: TestAgent, clock: ManualClock): Promise<void> {
  const ok = async (body: unknown): Promise<void> => {
    const r = await a.push(body);
    if (r.status !== 200) throw new Error(`push failed ${r.status}: ${JSON.stringify(r.body)}`);
  };
  // History first, so the job page has a chart and a success rate.
  for (let i = 0; i < 6; i++) {
    await ok({ job_name: 'nightly-etl', run_id: `etl-${i}`, event: 'started', timestamp: clock.now() });
    clock.advance((40 + i * 7) * 1000);
    await ok({ job_name: 'nightly-etl', run_id: `etl-${i}`, event: i === 3 ? 'failed' : 'succeeded', error_message: i === 3 ? 'disk full' : undefined });
    clock.advance(60_000);
  }
  await ok({ job_name: 'nightly-etl', run_id: 'etl-now', event: 'started', labels: { team: 'data' } });
  clock.advance(20_000);
  await ok({ job_name: 'nightly-etl', run_id: 'etl-now', event: 'progress', progress: 25, records_processed: 2500, records_total: 10000 });
  // Child batches of the running run, in several states.
  await ok([
    { job_name: 'nightly-etl-batch', run_id: 'b-ok-1', parent_run_id: 'etl-now', event: 'succeeded' },
    { job_name: 'nightly-etl-batch', run_id: 'b-ok-2', parent_run_id: 'etl-now', event: 'succeeded' },
    { job_name: 'nightly-etl-batch', run_id: 'b-run', parent_run_id: 'etl-now', event: 'started' },
    {
      job_name: 'nightly-etl-batch',
      run_id: 'b-bad',
      parent_run_id: 'etl-now',
      event: 'failed',
      error_message: 'batch 17: <img src=x onerror=alert(2)> parse error',
      metadata: { documents: ['doc-1', 'doc-2', '<b>doc-3</b>'] },
    },
  ]);
  await ok({ job_name: 'queue-job', event: 'queued' });
  await ok({ job_name: 'spark-submit', event: 'submitted' });
  await ok({ job_name: 'report', event: 'started' });
  await ok({ job_name: 'report', event: 'succeeded' });
  await ok({ job_name: 'export', event: 'started' });
  await ok({ job_name: 'export', event: 'failed', error_message: 'exit status 3', exit_code: 3 });
  await ok({ job_name: 'cleanup', event: 'started' });
  await ok({ job_name: 'cleanup', event: 'cancelled' });
  await ok({ job_name: 'stalled', run_id: 'stalled-1', event: 'started' });
  await ok({ job_name: 'slow', run_id: 'slow-1', event: 'started' });
  await ok({ job_name: 'flaky', run_id: 'flaky-1', event: 'started' });
  await ok({ job_name: HOSTILE, event: 'started', labels: { owner: '"><svg onload=alert(3)>' }, metadata: { note: '</pre><script>alert(4)</script>' } });
  await a.agent.ingest.ingest([
    { job_name: 'slow', run_id: 'slow-1', event: 'timed_out', source: 'clock' },
    { job_name: 'flaky', run_id: 'flaky-1', event: 'crashed', source: 'clock', error_message: 'no heartbeat from 2 batches' },
    { job_name: 'stalled', run_id: 'stalled-1', event: 'stuck', source: 'clock' },
  ]);
}
