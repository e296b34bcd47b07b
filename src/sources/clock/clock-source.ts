/**
 * The clock as an event source. Every `interval` it sweeps the in-memory state with the
 * pure detectors (detect.ts, schedule.ts) and hands their verdicts to ingest like any
 * other source; it never writes state, store or metrics itself. Tests call `sweep()`
 * instead of waiting for the timer, with a ManualClock.
 *
 * Restart safety: verdicts carry deterministic event ids, so the first sweep after a
 * restart re-emits what the previous process already recorded and ingest drops those as
 * duplicates. Schedules are re-checked `schedule_lookback` back (never before the job was
 * first seen, or before this agent started for a job it has never seen) against the run
 * start times read from the store at start.
 */
import { expectationsFor, type Config } from '../../config/schema.js';
import type { EventDraft } from '../../domain/job-event.js';
import type { Run } from '../../domain/run.js';
import type { IngestFn, IngestResult } from '../../ingest/ingest.js';
import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { JobState } from '../../state/job-state.js';
import type { Source, SourceHealth } from '../source.js';
import { detect, type Baseline, type BatchCounts } from './detect.js';
import { detectMissed, nextSlot, previousSlot, replayBack, type ScheduleSpec } from './schedule.js';

/**
 * The first slot whose whole window (opening midway after the previous slot) lies after
 * `horizon`: the runs that could cover it, and its own miss with its event id, are still in
 * the store whatever retention pruned before now.
 */
function retainedSlotFloor(s: ScheduleSpec, horizon: number): number | undefined {
  const first = nextSlot(s, horizon);
  if (first === undefined) return undefined;
  const prev = previousSlot(s, first);
  if (prev === undefined || Math.floor((prev + first) / 2) > horizon) return first;
  return nextSlot(s, first);
}

/** Verdicts per ingest call: a few ms of reducing each. */
const VERDICT_SLICE = 500;

export interface SweepResult {
  events: number;
  applied: number;
  seconds: number;
}

export interface ClockSource extends Source {
  /** One pass of every detector; resolves after its events are durable. Sweeps never overlap. */
  sweep(): Promise<SweepResult>;
  /** Next expected start (unix ms) of a scheduled job, as of the last sweep. */
  nextExpected(jobName: string): number | undefined;
  /** True when the job has a schedule. */
  scheduled(jobName: string): boolean;
}

export function createClockSource(deps: {
  ingest: IngestFn;
  state: JobState;
  config: Config;
  clock: Clock;
  logger: Logger;
  intervalMs: number;
  batches?: (parentRunId: string) => BatchCounts | undefined;
  baseline?: (jobName: string) => Baseline | undefined;
  /** Creation times (unix ms) of a job's runs since `since`, from the store. */
  runStartsSince?: (jobName: string, since: number) => Promise<number[]>;
  onSweep?: (r: SweepResult) => void;
}): ClockSource {
  const { state, config, clock, logger } = deps;
  // Expectations are static config: merge defaults and overrides once per job, not once per run per sweep.
  const expCache = new Map<string, ReturnType<typeof expectationsFor>>();
  const expectations = (name: string) => {
    let e = expCache.get(name);
    if (!e) {
      e = expectationsFor(config, name);
      if (expCache.size < 1_000_000) expCache.set(name, e);
    }
    return e;
  };
  const opts = {
    too_short_factor: config.detectors.too_short_factor,
    finish_parent: config.detectors.finish_parent,
    parent_fails_on: config.detectors.parent_fails_on,
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<SweepResult> | undefined;
  let startedAt: number | undefined;
  let lastError: string | undefined;
  let stopped = false;
  /** Succeeded runs published since the last sweep (for too_short, before they leave memory). */
  let finished: Run[] = [];
  /** Per scheduled job: checked up to (deadline time), and known run start times. */
  const checkedUntil = new Map<string, number>();
  const starts = new Map<string, Map<string, number>>();
  const loadedStarts = new Set<string>();
  const next = new Map<string, number>();
  /**
   * Per job the agent had no history of: no slot before this is judged. Limiting only the
   * deadlines judged was not enough: a slot just before the start whose grace ran past it
   * was judged missed by an agent that could not have seen its run.
   */
  const slotFloor = new Map<string, number>();

  const spec = (name: string): ScheduleSpec | undefined => {
    const e = expectations(name);
    return e.schedule === undefined ? undefined : { schedule: e.schedule, timezone: e.timezone, grace: e.grace };
  };
  const scheduledJobs = (): string[] => {
    const names = new Set(Object.keys(config.jobs.overrides));
    if (config.jobs.defaults.schedule !== undefined) for (const j of state.allJobs()) names.add(j.job_name);
    return [...names].filter((n) => spec(n) !== undefined);
  };

  const offChange = state.onChange(({ runs, removed }) => {
    if (removed) {
      // A deleted job starts afresh if it comes back (a schedule in the config brings it back
      // with its next missed slot, judged from then on, not from before the deletion).
      const gone = new Set(removed);
      finished = finished.filter((r) => !gone.has(r.job_name));
      for (const name of gone) {
        checkedUntil.set(name, clock.now());
        slotFloor.set(name, clock.now());
        starts.delete(name);
        loadedStarts.delete(name);
        next.delete(name);
        pending.delete(name);
      }
    }
    for (const r of runs) {
      if (r.state === 'succeeded' && !r.too_short) finished.push(r);
      if (r.state !== 'missed') starts.get(r.job_name)?.set(r.run_id, r.created_at);
    }
  });

  /** Per scheduled job: the first slot not yet judged, so a sweep skips jobs with nothing due. */
  const pending = new Map<string, number>();

  async function scheduleDrafts(now: number, checked: Map<string, number>): Promise<EventDraft[]> {
    const out: EventDraft[] = [];
    const lookback = config.detectors.schedule_lookback;
    for (const name of scheduledJobs()) {
      const s = spec(name) as ScheduleSpec;
      const n = next.get(name);
      if (n === undefined || n <= now) {
        const t = nextSlot(s, now);
        if (t !== undefined) next.set(name, t);
      }
      const due = pending.get(name);
      // Nothing can be judged before the first unjudged slot's grace has passed.
      if (due !== undefined && !(now > due + s.grace)) continue;
      let from = checkedUntil.get(name);
      if (from === undefined) {
        const job = state.getJob(name);
        from = Math.max(now - lookback, job ? job.first_seen_at : (startedAt ?? now));
        if (!job && !slotFloor.has(name)) slotFloor.set(name, startedAt ?? now);
        // Re-checking after a start: retention may have pruned the runs that covered older
        // slots (judged missed, 1 → 9 misses after a restart with retention.runs under the
        // lookback) and the event ids of misses already recorded (recorded again, counted twice).
        const kept = retainedSlotFloor(s, now - Math.min(config.retention.runs, config.retention.events));
        if (kept !== undefined && kept > (slotFloor.get(name) ?? -Infinity)) slotFloor.set(name, kept);
      }
      if (!starts.has(name)) starts.set(name, new Map());
      const known = starts.get(name) as Map<string, number>;
      if (!loadedStarts.has(name)) {
        loadedStarts.add(name);
        const since = from - lookback;
        const times = deps.runStartsSince ? await deps.runStartsSince(name, since) : [];
        times.forEach((t, i) => known.set(`store:${i}`, t));
        for (const r of state.allRuns()) if (r.job_name === name && r.state !== 'missed') known.set(r.run_id, r.created_at);
      }
      const floor = slotFloor.get(name);
      out.push(...detectMissed({ job_name: name, spec: s, from, now, runStarts: [...known.values()], ...(floor !== undefined ? { notBefore: floor } : {}) }));
      checked.set(name, now);
      // Forget starts too old to cover any slot still to be judged.
      for (const [id, t] of known) if (t < now - lookback - replayBack(s)) known.delete(id);
    }
    return out;
  }

  async function doSweep(): Promise<SweepResult> {
    const t0 = performance.now();
    const now = clock.now();
    const done = finished;
    finished = [];
    const drafts = detect(
      {
        runs: state.allRuns(),
        finished: done,
        ...(deps.batches ? { batches: deps.batches } : {}),
        ...(deps.baseline ? { baseline: deps.baseline } : {}),
      },
      now,
      expectations,
      opts,
    );
    const checked = new Map<string, number>();
    let applied = 0;
    try {
      drafts.push(...(await scheduleDrafts(now, checked)));
      if (drafts.length > 0) {
        // In slices: ingest takes a request whole into one batch, and tens of thousands of
        // verdicts at once (every run overdue after an outage) held the event loop and every
        // push behind them. Verdict ids are deterministic: a slice committed before a later one
        // failed is a duplicate when the next sweep judges the same runs again.
        const results: IngestResult[] = [];
        for (let i = 0; i < drafts.length; i += VERDICT_SLICE) results.push(...(await deps.ingest(drafts.slice(i, i + VERDICT_SLICE))));
        const kind = new Map(drafts.map((d) => [d.event_id, d.event]));
        for (const r of results) {
          if (r.result !== 'applied') continue;
          applied += 1;
          logger.info('detector verdict', { source: 'clock', job_name: r.job_name, run_id: r.run_id, event: kind.get(r.event_id), state: r.state });
        }
      }
    } catch (err) {
      // Nothing was committed: judge the same runs and slots again next sweep.
      finished = done.concat(finished);
      throw err;
    }
    for (const [name, t] of checked) {
      checkedUntil.set(name, t);
      const s = spec(name);
      const first = s ? nextSlot(s, t - s.grace - 1) : undefined;
      if (first !== undefined) pending.set(name, first);
    }
    const res = { events: drafts.length, applied, seconds: (performance.now() - t0) / 1000 };
    deps.onSweep?.(res);
    return res;
  }

  const source: ClockSource = {
    name: 'clock',
    async start() {
      stopped = false;
      startedAt ??= clock.now();
      // job_next_expected_run_time_seconds is read from `next`, which only sweeps filled: after
      // a restart /metrics lacked it until the first sweep (30 s by default).
      for (const name of scheduledJobs()) {
        const t = nextSlot(spec(name) as ScheduleSpec, startedAt);
        if (t !== undefined && !next.has(name)) next.set(name, t);
      }
      timer = setInterval(() => {
        void source.sweep().catch(() => undefined);
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      offChange();
      await running?.catch(() => undefined);
    },
    health(): SourceHealth {
      return lastError ? { ok: false, detail: lastError } : { ok: true };
    },
    sweep() {
      if (running) return running;
      if (stopped && timer === undefined && startedAt !== undefined) return Promise.resolve({ events: 0, applied: 0, seconds: 0 });
      startedAt ??= clock.now();
      running = doSweep()
        .then((r) => {
          lastError = undefined;
          return r;
        })
        .catch((err: unknown) => {
          lastError = `sweep failed: ${(err as Error)?.message ?? String(err)}`;
          logger.error('detector sweep failed', { err });
          throw err;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    nextExpected: (name) => next.get(name),
    scheduled: (name) => spec(name) !== undefined,
  };
  return source;
}
