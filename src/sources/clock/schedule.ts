/**
 * Missed schedules, pure. A job with `schedule` (cron + timezone) expects a run at each
 * slot the cron expression yields in that timezone. cron-parser works in instants, so a
 * daylight-saving change neither adds nor drops a slot: a local time skipped in spring
 * maps to one instant, a local time repeated in autumn yields one instant (tested for
 * Europe/Berlin and America/New_York).
 *
 * Slot e is covered when a run of the job was created in the window
 *   (midpoint(previous slot, e), e + grace], and before the next slot
 * so a run started a little early counts, and a late run of the previous slot does not;
 * a run at or after the next slot's time is that slot's own run, not a late one of e
 * (with grace ≥ the interval, one skipped run would otherwise push every later run one
 * slot back and the hole would never be reported).
 * With grace over half the interval, windows still overlap, and one run used to cover
 * every slot whose window held it (*\/5 with grace 5m: a job running every 10 minutes
 * missed nothing). So a run covers at most one slot: slots take runs in order, each the
 * earliest run in its window that no earlier slot took (windows open and close in order).
 * The slots judged just before `from` are matched again, unreported, so that a run they
 * took is not taken a second time.
 * Slot e is judged only once its window has closed (now > e + grace); a miss is a
 * synthetic `missed` run stamped with the deadline e + grace, whose id
 * `missed:<job>:<e>` makes a re-check after a restart a duplicate rather than a second miss.
 */
import { CronExpressionParser } from 'cron-parser';
import type { EventDraft } from '../../domain/job-event.js';
import { formatDuration } from '../../runtime/duration.js';

export interface ScheduleSpec {
  schedule: string;
  timezone: string;
  grace: number;
}

/** Slot instants (unix ms) in (from, until]. */
export function slotsBetween(spec: ScheduleSpec, from: number, until: number): number[] {
  if (until <= from) return [];
  const it = CronExpressionParser.parse(spec.schedule, { currentDate: new Date(from), endDate: new Date(until), tz: spec.timezone });
  const out: number[] = [];
  while (it.hasNext()) {
    const t = it.next().getTime();
    if (t > until) break;
    out.push(t);
  }
  return out;
}

/** The slot before `t` (strictly). */
export function previousSlot(spec: ScheduleSpec, t: number): number | undefined {
  try {
    return CronExpressionParser.parse(spec.schedule, { currentDate: new Date(t), tz: spec.timezone }).prev().getTime();
  } catch {
    return undefined;
  }
}

/** The first slot after `t` (strictly). */
export function nextSlot(spec: ScheduleSpec, t: number): number | undefined {
  try {
    return CronExpressionParser.parse(spec.schedule, { currentDate: new Date(t), tz: spec.timezone }).next().getTime();
  } catch {
    return undefined;
  }
}

/**
 * How far before `from` slots are matched again (unreported): windows overlap only while
 * grace is over half the interval, so a few graces back reaches every slot that could have
 * taken one of the runs in the judged windows.
 */
export const replayBack = (spec: ScheduleSpec): number => 4 * spec.grace;

/**
 * Missed slots of one job whose windows closed in [from, now): `runStarts` are the
 * creation times (unix ms) of the job's runs around that range (from `from` -
 * replayBack - one interval on). Slots before `notBefore` are neither judged nor take a run.
 */
export function detectMissed(args: { job_name: string; spec: ScheduleSpec; from: number; now: number; runStarts: readonly number[]; notBefore?: number }): EventDraft[] {
  const { job_name, spec, from, now, runStarts, notBefore } = args;
  const out: EventDraft[] = [];
  // Slots whose deadline e + grace lies in [from, now) are judged (once now > deadline, and a
  // check that ended at `from` left exactly these for the next one); earlier ones are replayed.
  let low = from - spec.grace - 1 - replayBack(spec);
  if (notBefore !== undefined) low = Math.max(low, notBefore - 1);
  const slots = slotsBetween(spec, low, now - spec.grace - 1);
  // The same run may be known twice (read from the store and seen in memory): one start counts once.
  const starts = [...new Set(runStarts)].sort((a, b) => a - b);
  let next = 0;
  let prev = slots.length > 0 ? previousSlot(spec, slots[0] as number) : undefined;
  for (const [i, e] of slots.entries()) {
    const opens = prev === undefined ? e - spec.grace : Math.floor((prev + e) / 2);
    const deadline = e + spec.grace;
    const following = i + 1 < slots.length ? slots[i + 1] : nextSlot(spec, e);
    const closes = following === undefined ? deadline : Math.min(deadline, following - 1);
    prev = e;
    // Windows open in order: a start at or before this one's opening fits no later slot either.
    while (next < starts.length && (starts[next] as number) <= opens) next += 1;
    if (next < starts.length && (starts[next] as number) <= closes) {
      next += 1;
      continue;
    }
    if (deadline < from) continue;
    out.push({
      event_id: `missed:${job_name}:${e}`,
      run_id: `missed:${job_name}:${e}`,
      job_name,
      event: 'missed',
      source: 'clock',
      timestamp: deadline,
      error_message: `no run started between ${new Date(opens).toISOString()} and ${new Date(closes).toISOString()}: expected at ${new Date(e).toISOString()} (schedule "${spec.schedule}" ${spec.timezone}, grace ${formatDuration(spec.grace)})`,
      metadata: { expected_at: new Date(e).toISOString(), schedule: spec.schedule, timezone: spec.timezone },
    });
  }
  return out;
}
