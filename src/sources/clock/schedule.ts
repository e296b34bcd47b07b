/**
 * Missed schedules, pure. A job with `schedule` (cron + timezone) expects a run at each
 * slot the cron expression yields in that timezone. cron-parser works in instants, so a
 * daylight-saving change neither adds nor drops a slot: a local time skipped in spring
 * maps to one instant, a local time repeated in autumn yields one instant (tested for
 * Europe/Berlin and America/New_York).
 *
 * Slot e is covered when a run of the job was created in the window
 *   (midpoint(previous slot, e), e + grace]
 * so a run started a little early counts, and a late run of the previous slot does not.
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
 * Missed slots of one job whose windows closed in [from, now): `runStarts` are the
 * creation times (unix ms) of the job's runs around that range.
 */
export function detectMissed(args: { job_name: string; spec: ScheduleSpec; from: number; now: number; runStarts: readonly number[] }): EventDraft[] {
  const { job_name, spec, from, now, runStarts } = args;
  const out: EventDraft[] = [];
  // Slots whose deadline e + grace lies in [from, now): judged once now > deadline, and a
  // check that ended at `from` left exactly these for the next one.
  const slots = slotsBetween(spec, from - spec.grace - 1, now - spec.grace - 1);
  let prev = slots.length > 0 ? previousSlot(spec, slots[0] as number) : undefined;
  for (const e of slots) {
    const opens = prev === undefined ? e - spec.grace : Math.floor((prev + e) / 2);
    const deadline = e + spec.grace;
    prev = e;
    if (runStarts.some((t) => t > opens && t <= deadline)) continue;
    out.push({
      event_id: `missed:${job_name}:${e}`,
      run_id: `missed:${job_name}:${e}`,
      job_name,
      event: 'missed',
      source: 'clock',
      timestamp: deadline,
      error_message: `no run started between ${new Date(opens).toISOString()} and ${new Date(deadline).toISOString()}: expected at ${new Date(e).toISOString()} (schedule "${spec.schedule}" ${spec.timezone}, grace ${formatDuration(spec.grace)})`,
      metadata: { expected_at: new Date(e).toISOString(), schedule: spec.schedule, timezone: spec.timezone },
    });
  }
  return out;
}
