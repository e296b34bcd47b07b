import { describe, expect, it } from 'vitest';
import { parseConfig, expectationsFor, type JobExpectations } from '../../src/config/schema.js';
import type { EventType, JobEvent } from '../../src/domain/job-event.js';
import { apply } from '../../src/domain/lifecycle.js';
import type { Run } from '../../src/domain/run.js';
import { eventBuilder } from '../support/job-events.js';
import { computeBaseline, SuccessWindow } from '../../src/history/baselines.js';
import {
  detect,
  detectCrashedChild,
  detectMaxDuration,
  detectParent,
  detectStuck,
  detectSubmittingTimeout,
  detectTooShort,
  DEFAULT_DETECT_OPTIONS,
  type BatchCounts,
} from '../../src/sources/clock/detect.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const MIN = 60_000;
const base = expectationsFor(parseConfig({}), 'etl');
const exp = (o: Partial<JobExpectations> = {}): JobExpectations => ({ ...base, ...o });

const run = (o: Partial<Run> = {}): Run => ({
  run_id: 'r1',
  job_name: 'etl',
  state: 'running',
  source: 'push',
  created_at: T0,
  started_at: T0,
  last_event_at: T0,
  last_heartbeat_at: T0,
  labels: {},
  stuck: false,
  overdue: false,
  event_count: 1,
  ...o,
});

const ev = eventBuilder(() => T0);

describe('stuck detector (stuck_after 10m)', () => {
  it.each<[string, Partial<Run>, number, boolean]>([
    ['silent for less than stuck_after', {}, T0 + 9 * MIN, false],
    ['exactly at the deadline: not yet', {}, T0 + 10 * MIN, false],
    ['one millisecond past the deadline', {}, T0 + 10 * MIN + 1, true],
    ['a heartbeat exactly at the old deadline restarts the clock', { last_heartbeat_at: T0 + 10 * MIN }, T0 + 10 * MIN + 1, false],
    ['progress counts as a sign of life', { last_heartbeat_at: undefined, last_progress_at: T0 + 5 * MIN }, T0 + 14 * MIN, false],
    ['already flagged: no second verdict', { stuck: true }, T0 + 60 * MIN, false],
    ['a queued run is not stuck', { state: 'queued', started_at: undefined }, T0 + 60 * MIN, false],
    ['a child batch gets crash_after, not stuck', { parent_run_id: 'p' }, T0 + 60 * MIN, false],
  ])('%s', (_why, o, now, stuck) => {
    const d = detectStuck(run(o), now, exp());
    expect(d !== undefined).toBe(stuck);
    if (d) {
      expect(d.timestamp).toBe(T0 + 10 * MIN);
      expect(d.event_id).toBe(`stuck:r1:${T0 + 10 * MIN}`);
      expect(d.source).toBe('clock');
    }
  });

  it('progress going backwards is still a sign of life but does not lower the gauge', () => {
    let r = apply(undefined, ev('started')).run as Run;
    r = apply(r, ev('progress', { progress: 60, timestamp: T0 + MIN })).run as Run;
    r = apply(r, ev('progress', { progress: 40, timestamp: T0 + 8 * MIN })).run as Run;
    expect(r.progress).toBe(60);
    expect(detectStuck(r, T0 + 11 * MIN, exp())).toBeUndefined();
    expect(detectStuck(r, T0 + 18 * MIN + 1, exp())?.timestamp).toBe(T0 + 18 * MIN);
  });

  it('the flag clears on the next heartbeat, and a stale verdict is recorded, not applied', () => {
    const r = run();
    const d = detectStuck(r, T0 + 11 * MIN, exp());
    const verdict = { ...ev('stuck'), ...d, timestamp: d?.timestamp ?? 0 } as JobEvent;
    // A heartbeat wins the race: the verdict arrives after it.
    const alive = apply(r, ev('heartbeat', { timestamp: T0 + 10 * MIN + 30_000 })).run as Run;
    const stale = apply(alive, verdict);
    expect(stale.applied).toBe(false);
    if (!stale.applied) expect(stale.reason).toContain('stale');
    const flagged = apply(r, verdict);
    expect(flagged.applied && flagged.run.stuck).toBe(true);
    const cleared = apply(flagged.run, ev('heartbeat', { timestamp: T0 + 12 * MIN })).run as Run;
    expect(cleared.stuck).toBe(false);
    expect(cleared.state).toBe('running');
  });
});

describe('stuck parent of child batches', () => {
  const SEC = 1000;
  const e = () => exp({ stuck_after: 8 * SEC });
  const parent = run({ run_id: 'ip', job_name: 'idx' });
  const child = (id: string, alive: number, o: Partial<Run> = {}): Run =>
    run({ run_id: id, job_name: 'idx-batch', parent_run_id: 'ip', last_heartbeat_at: alive, last_progress_at: alive, ...o });

  it.each<[string, Run[], number, number | undefined]>([
    ['children reporting keep the parent alive', [child('ib1', T0 + 18 * SEC), child('ib2', T0 + 18 * SEC), child('ib3', T0 + 18 * SEC)], T0 + 20 * SEC, undefined],
    ['the newest child counts', [child('ib1', T0 + 2 * SEC), child('ib2', T0 + 15 * SEC)], T0 + 20 * SEC, undefined],
    ['every child silent: stuck from the newest child sign of life', [child('ib1', T0 + 2 * SEC), child('ib2', T0 + 5 * SEC)], T0 + 14 * SEC, T0 + 13 * SEC],
    ['a finished child is no sign of life of the parent', [child('ib1', T0 + 15 * SEC, { state: 'succeeded', ended_at: T0 + 15 * SEC })], T0 + 20 * SEC, T0 + 8 * SEC],
    ['no children: the parent\'s own clock', [], T0 + 9 * SEC, T0 + 8 * SEC],
  ])('%s', (_why, children, now, stuckAt) => {
    // Children listed after and before the parent: the view's order must not matter.
    for (const runs of [[parent, ...children], [...children, parent]]) {
      const out = detect({ runs }, now, e).filter((d) => d.event === 'stuck');
      expect(out.map((d) => d.timestamp)).toEqual(stuckAt === undefined ? [] : [stuckAt]);
      if (stuckAt !== undefined) expect(out[0]?.precondition).toEqual({ state: 'running', alive_at: T0 });
    }
  });

  it.each<[string, Run[], number | undefined]>([
    ['a child reports after the verdict: the parent gets a heartbeat at that time', [child('ib1', T0 + 30 * SEC)], T0 + 30 * SEC],
    ['the newest of several children', [child('ib1', T0 + 25 * SEC), child('ib2', T0 + 31 * SEC)], T0 + 31 * SEC],
    ['children silent since before the verdict: no heartbeat', [child('ib1', T0 + 5 * SEC)], undefined],
    ['a finished child is no sign of life', [child('ib1', T0 + 30 * SEC, { state: 'succeeded', ended_at: T0 + 30 * SEC })], undefined],
  ])('a parent flagged stuck: %s', (_why, children, heartbeatAt) => {
    // Flagged stuck at T0 + 13 s (its last event, the verdict).
    const stuck = { ...parent, stuck: true, last_event_at: T0 + 13 * SEC };
    for (const runs of [[stuck, ...children], [...children, stuck]]) {
      const out = detect({ runs }, T0 + 40 * SEC, e).filter((d) => d.event === 'heartbeat');
      expect(out.map((d) => [d.run_id, d.timestamp])).toEqual(heartbeatAt === undefined ? [] : [['ip', heartbeatAt]]);
    }
  });
});

describe('timeouts', () => {
  it.each<[string, Partial<Run>, Partial<JobExpectations>, number, EventType | undefined]>([
    ['submitting within submitting_timeout', { state: 'submitting', submitted_at: T0, started_at: undefined }, {}, T0 + 5 * MIN, undefined],
    ['submitting past submitting_timeout', { state: 'submitting', submitted_at: T0, started_at: undefined }, {}, T0 + 5 * MIN + 1, 'timed_out'],
    ['running with no max_duration', {}, {}, T0 + 100 * MIN, undefined],
    ['running past max_duration (timeout)', {}, { max_duration: 30 * MIN }, T0 + 31 * MIN, 'timed_out'],
    ['running past max_duration (flag)', {}, { max_duration: 30 * MIN, max_duration_action: 'flag' }, T0 + 31 * MIN, 'overdue'],
    ['already overdue: flagged once', { overdue: true }, { max_duration: 30 * MIN, max_duration_action: 'flag' }, T0 + 31 * MIN, undefined],
  ])('%s', (_why, o, e, now, want) => {
    const r = run(o);
    const d = detectSubmittingTimeout(r, now, exp(e)) ?? detectMaxDuration(r, now, exp(e));
    expect(d?.event).toBe(want);
    if (d) expect(d.error_message).toMatch(/submitting_timeout|max_duration/);
  });

  it('stamps the submitting timeout with the deadline and explains it', () => {
    const d = detectSubmittingTimeout(run({ state: 'submitting', submitted_at: T0, started_at: undefined }), T0 + 60 * MIN, exp());
    expect(d?.timestamp).toBe(T0 + 5 * MIN);
    expect(d?.error_message).toContain('did not start running within 5m');
  });
});

describe('crashed child batches (crash_after 10m)', () => {
  it.each<[string, Partial<Run>, number, boolean]>([
    ['running child silent < crash_after', { parent_run_id: 'p' }, T0 + 10 * MIN, false],
    ['running child silent > crash_after', { parent_run_id: 'p' }, T0 + 10 * MIN + 1, true],
    ['a pending (queued) child is not crashed', { parent_run_id: 'p', state: 'queued', started_at: undefined }, T0 + 60 * MIN, false],
    ['a top-level run is not crashed', {}, T0 + 60 * MIN, false],
  ])('%s', (_why, o, now, crashed) => {
    const d = detectCrashedChild(run(o), now, exp());
    expect(d !== undefined).toBe(crashed);
    if (d) expect(d.error_message).toContain('did not report within the expected time');
  });

  it('a late report after the crash is recorded, the crash is not undone', () => {
    const child = run({ parent_run_id: 'p' });
    const d = detectCrashedChild(child, T0 + 11 * MIN, exp());
    const crashed = apply(child, { ...ev('crashed'), ...d, timestamp: d?.timestamp ?? 0 } as JobEvent);
    expect(crashed.applied && crashed.run.state).toBe('crashed');
    const late = apply(crashed.run, ev('succeeded', { timestamp: T0 + 12 * MIN }));
    expect(late.applied).toBe(false);
    expect(late.run?.state).toBe('crashed');
    if (!late.applied) expect(late.reason).toContain('already crashed');
  });

  const counts = (by_state: BatchCounts['by_state']): BatchCounts => ({
    total: Object.values(by_state).reduce((a, b) => a + (b ?? 0), 0),
    by_state,
    last_ended_at: T0 + 5 * MIN,
  });
  it.each<[string, BatchCounts['by_state'], 'any' | 'all', EventType | undefined, number | undefined]>([
    ['nothing finished yet', { running: 4 }, 'any', undefined, undefined],
    ['one of four finished → 25%', { running: 3, succeeded: 1 }, 'any', 'progress', 25],
    ['all succeeded → parent succeeds', { succeeded: 4 }, 'any', 'succeeded', undefined],
    ['one crashed → parent fails (any)', { succeeded: 3, crashed: 1 }, 'any', 'failed', undefined],
    ['one crashed → parent succeeds (all)', { succeeded: 3, crashed: 1 }, 'all', 'succeeded', undefined],
    ['all failed → parent fails (all)', { failed: 2, crashed: 2 }, 'all', 'failed', undefined],
  ])('parent: %s', (_why, by, failsOn, want, progress) => {
    const d = detectParent(run({ run_id: 'p' }), counts(by), { ...DEFAULT_DETECT_OPTIONS, parent_fails_on: failsOn });
    expect(d?.event).toBe(want);
    if (progress !== undefined) expect(d?.progress).toBe(progress);
    if (want === 'failed') expect(d?.error_message).toContain('child batches failed');
  });
});

describe('too short', () => {
  it.each<[string, number, Partial<JobExpectations>, number, boolean]>([
    ['faster than min_duration', 2, { min_duration: 30_000 }, 0, true],
    ['exactly min_duration is fine', 30, { min_duration: 30_000 }, 0, false],
    ['far below the learned p50', 5, {}, 0.1, true],
    ['factor off', 5, {}, 0, false],
  ])('%s', (_why, seconds, e, factor, flagged) => {
    const r = run({ state: 'succeeded', ended_at: T0 + seconds * 1000 });
    const d = detectTooShort(r, exp(e), { p50: 100, p95: 120, samples: 10 }, factor);
    expect(d !== undefined).toBe(flagged);
  });
});

describe('baselines', () => {
  it.each<[number[], number, { p50: number; p95: number } | undefined]>([
    [[10, 20, 30], 5, undefined],
    [[10, 20, 30, 40, 50], 5, { p50: 30, p95: 50 }],
    [[...Array.from({ length: 100 }, (_, i) => i + 1)], 5, { p50: 50, p95: 95 }],
  ])('%j (min %d) → %j', (d, min, want) => {
    const b = computeBaseline(d, min);
    expect(b ? { p50: b.p50, p95: b.p95 } : undefined).toEqual(want);
  });

  // [successes as [ended_at, seconds], window size, the durations the baseline sees]
  it.each<[string, [number, number][], number, number[]]>([
    ['keeps the newest N', [[1, 10], [2, 20], [3, 30], [4, 40]], 3, [20, 30, 40]],
    ['orders by end time, not arrival', [[3, 30], [1, 10], [2, 20]], 3, [10, 20, 30]],
    ['a success older than a full window is not one of the newest', [[2, 20], [3, 30], [1, 10]], 2, [20, 30]],
    ['a redelivered success counts once', [[1, 10], [2, 20], [2, 20]], 5, [10, 20]],
    ['two runs ending together both count', [[1, 10], [2, 20], [2, 25]], 5, [10, 20, 25]],
    ['ties in end time keep the longest, whichever came first (as the store reads them back)', [[5, 30], [5, 10], [5, 20]], 2, [20, 30]],
  ])('window: %s', (_why, successes, size, want) => {
    const w = new SuccessWindow(size);
    for (const [at, d] of successes) w.add(at, d);
    const b = w.baseline(1);
    expect(b?.samples).toBe(want.length);
    expect(b).toEqual(computeBaseline(want, 1));
  });

  it('window: recomputes only after a change', () => {
    const w = new SuccessWindow(10);
    for (let i = 1; i <= 5; i++) w.add(i, i * 10);
    const first = w.baseline(5);
    expect(w.baseline(5)).toBe(first);
    w.add(6, 60);
    expect(w.baseline(5)).not.toBe(first);
    expect(w.baseline(5)?.samples).toBe(6);
  });
});

describe('detect (one sweep)', () => {
  it('gives a run at most one terminal verdict and is stable across re-sweeps', () => {
    const runs = [
      run({ run_id: 'a', state: 'submitting', started_at: undefined, submitted_at: T0 }),
      run({ run_id: 'b' }),
      run({ run_id: 'c', parent_run_id: 'p' }),
    ];
    const now = T0 + 60 * MIN;
    const first = detect({ runs }, now, () => exp({ max_duration: 30 * MIN }));
    expect(first.map((d) => `${d.run_id}:${d.event}`).sort()).toEqual(['a:timed_out', 'b:timed_out', 'c:crashed']);
    const again = detect({ runs }, now + MIN, () => exp({ max_duration: 30 * MIN }));
    expect(again.map((d) => d.event_id)).toEqual(first.map((d) => d.event_id));
  });
});
