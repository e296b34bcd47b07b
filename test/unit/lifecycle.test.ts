import { describe, expect, it } from 'vitest';
import { applyToJob, LAST_SEEN_STEP_MS, type Job } from '../../src/domain/job.js';
import type { EventType, JobEvent } from '../../src/domain/job-event.js';
import { apply, TRANSITIONS } from '../../src/domain/lifecycle.js';
import { RUN_STATES, type Run, type RunState } from '../../src/domain/run.js';
import { eventBuilder } from '../support/job-events.js';

const T0 = Date.UTC(2026, 0, 1);
const ev = eventBuilder((n) => T0 + n * 1000);
const runIn = (state: RunState | 'new'): Run | undefined => {
  if (state === 'new') return undefined;
  const r = apply(undefined, ev('queued'));
  if (!r.applied) throw new Error('setup');
  return { ...r.run, state, started_at: state === 'queued' || state === 'submitting' ? undefined : T0 };
};

describe('lifecycle transitions', () => {
  it.each<[RunState | 'new', EventType, RunState | 'ignored', string]>([
    ['new', 'queued', 'queued', 'a queued event opens a run'],
    ['new', 'started', 'running', 'a start opens a running run'],
    ['new', 'progress', 'running', 'progress on an unknown run means it runs'],
    ['new', 'succeeded', 'succeeded', 'a finish without start is recorded as finished'],
    ['new', 'stuck', 'ignored', 'a detector cannot mark a run that does not exist'],
    ['queued', 'submitted', 'submitting', 'handed to the cluster'],
    ['queued', 'started', 'running', 'started straight from the queue'],
    ['submitting', 'started', 'running', 'the driver runs'],
    ['submitting', 'queued', 'ignored', 'moving backwards is recorded, ignored'],
    ['submitting', 'timed_out', 'timed_out', 'submitting timeout'],
    ['running', 'submitted', 'ignored', 'a late submitted does not rewind'],
    ['running', 'heartbeat', 'running', 'heartbeat keeps it running'],
    ['running', 'failed', 'failed', 'failure ends the run'],
    ['running', 'cancelled', 'cancelled', 'cancel ends the run'],
    ['running', 'crashed', 'crashed', 'a crash ends the run'],
    ['running', 'stuck', 'running', 'stuck is a flag, not a state'],
    ['succeeded', 'progress', 'ignored', 'progress after finish does not reopen'],
    ['succeeded', 'failed', 'ignored', 'a second finish does not change the outcome'],
    ['failed', 'started', 'ignored', 'a retry is a new run, not a reopened one'],
    ['crashed', 'succeeded', 'ignored', 'a late report after a crash is recorded, the crash stands'],
  ])('%s + %s → %s (%s)', (from, event, to) => {
    const out = apply(runIn(from), ev(event));
    if (to === 'ignored') {
      expect(out.applied).toBe(false);
      if (!out.applied) expect(out.reason).toBeTruthy();
    } else {
      expect(out.applied).toBe(true);
      expect(out.run?.state).toBe(to);
    }
  });

  it('has a row for every state', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...RUN_STATES, 'new'].sort());
  });
});

describe('lifecycle fields', () => {
  it('keeps progress monotonic and counts a lower value as a sign of life', () => {
    let run = apply(undefined, ev('started', { timestamp: T0 })).run as Run;
    run = apply(run, ev('progress', { progress: 60, timestamp: T0 + 1000 })).run as Run;
    const out = apply(run, ev('progress', { progress: 30, timestamp: T0 + 2000 }));
    expect(out.run?.progress).toBe(60);
    expect(out.run?.last_progress_at).toBe(T0 + 1000);
    expect(out.run?.last_heartbeat_at).toBe(T0 + 2000);
  });

  it('sets progress to 100 and the end time on success, duration from start', () => {
    let run = apply(undefined, ev('started', { timestamp: T0 })).run as Run;
    run = apply(run, ev('succeeded', { timestamp: T0 + 90_000 })).run as Run;
    expect(run.progress).toBe(100);
    expect(run.ended_at).toBe(T0 + 90_000);
  });

  it('clears the stuck flag on the next heartbeat', () => {
    let run = apply(undefined, ev('started')).run as Run;
    run = apply(run, ev('stuck')).run as Run;
    expect(run.stuck).toBe(true);
    run = apply(run, ev('heartbeat')).run as Run;
    expect(run.stuck).toBe(false);
  });

  it('takes the highest records_processed so a re-sent total never double-counts', () => {
    let run = apply(undefined, ev('started', { records_processed: 10 })).run as Run;
    run = apply(run, ev('progress', { records_processed: 50 })).run as Run;
    run = apply(run, ev('progress', { records_processed: 40 })).run as Run;
    expect(run.records_processed).toBe(50);
  });

  it.each<RunState>(['running', 'succeeded'])("does not apply an event naming a %s run of another job (run ids are global)", (state) => {
    const run = runIn(state) as Run;
    const other = ev('succeeded', { job_name: `not-${run.job_name}` });
    const out = apply(run, other);
    expect(out.applied).toBe(false);
    expect(out.run).toBe(run);
    if (!out.applied) expect(out.reason).toMatch(/belongs to job .*run ids are global/);
  });

  it('merges object metadata key by key', () => {
    let run = apply(undefined, ev('started', { metadata: { docs: [1, 2] } })).run as Run;
    run = apply(run, ev('progress', { metadata: { generated: 'x' } })).run as Run;
    expect(run.metadata).toEqual({ docs: [1, 2], generated: 'x' });
  });
});

describe('job aggregates (applyToJob)', () => {
  // Events 300 ms apart: the fourth is 900 ms after the first, the fifth 1.2 s.
  const at = eventBuilder((n) => T0 + (n - 1) * 300);
  const fold = () => {
    let job: Job | undefined;
    let run: Run | undefined;
    return (event: EventType, extra: Partial<JobEvent> = {}): Job => {
      const e = at(event, extra);
      const out = apply(run, e);
      if (!out.applied) throw new Error(out.reason);
      job = applyToJob(job, run, out.run, e);
      run = out.run;
      return job;
    };
  };

  it('keeps the job snapshot while only last_seen_at would move by less than LAST_SEEN_STEP_MS; copies it when anything counts', () => {
    const step = fold();
    const started = step('started');
    expect(step('heartbeat')).toBe(started);
    expect(step('progress', { progress: 10 })).toBe(started);
    const withRecords = step('progress', { records_processed: 5 });
    expect(withRecords).not.toBe(started);
    expect(withRecords.records_processed_total).toBe(5);
    expect(withRecords.last_seen_at).toBe(T0 + 900);
    // 1.2 s after the start, 300 ms after the last copy: still kept.
    expect(step('heartbeat')).toBe(withRecords);
    const later = step('heartbeat', { received_at: T0 + 900 + LAST_SEEN_STEP_MS });
    expect(later).not.toBe(withRecords);
    expect(later.last_seen_at).toBe(T0 + 900 + LAST_SEEN_STEP_MS);
    const done = step('succeeded');
    expect(done.runs_total.succeeded).toBe(1);
    expect(done.last_success_at).toBeDefined();
  });
});
