import { describe, expect, it } from 'vitest';
import { detectMissed, nextSlot, slotsBetween } from '../../src/sources/clock/schedule.js';

const MIN = 60_000;
const at = (s: string): number => Date.parse(s);

describe('schedule slots across daylight-saving changes', () => {
  it.each<[string, string, string, string, string[]]>([
    // Berlin springs forward 2026-03-29 02:00 → 03:00: 02:30 does not exist that day; one slot, not zero.
    ['30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', '2026-03-30T12:00:00Z', ['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']],
    // Berlin falls back 2026-10-25 03:00 → 02:00: 02:30 happens twice; one slot, not two.
    ['30 2 * * *', 'Europe/Berlin', '2026-10-23T12:00:00Z', '2026-10-26T12:00:00Z', ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    // New York falls back 2026-11-01 02:00 → 01:00; a 09:00 job keeps 09:00 local.
    ['0 9 * * *', 'America/New_York', '2026-10-31T00:00:00Z', '2026-11-02T00:00:00Z', ['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z']],
  ])('%s %s', (schedule, timezone, from, until, want) => {
    const slots = slotsBetween({ schedule, timezone, grace: 5 * MIN }, at(from), at(until)).map((t) => new Date(t).toISOString());
    expect(slots).toEqual(want);
  });
});

describe('missed schedule detector', () => {
  const spec = { schedule: '0 2 * * *', timezone: 'Europe/Berlin', grace: 10 * MIN };
  // 2026-10-25 02:00 Berlin (CEST) = 00:00Z; the night the clocks go back.
  const e = at('2026-10-25T00:00:00Z');

  it.each<[string, number[], number, string[]]>([
    ['a run on time covers the slot', [e + MIN], e + 11 * MIN, []],
    ['a run a little early covers the slot', [e - 30 * MIN], e + 11 * MIN, []],
    ['a run exactly at the end of grace covers the slot', [e + 10 * MIN], e + 11 * MIN, []],
    ['no run: missed, stamped with the deadline', [], e + 11 * MIN, [`missed:nightly:${e}`]],
    ['a run after grace is late: the slot is missed', [e + 15 * MIN], e + 16 * MIN, [`missed:nightly:${e}`]],
    ['inside the grace window: not judged yet', [], e + 10 * MIN, []],
    ['yesterday\'s run does not cover today', [e - 86_400_000 + MIN], e + 11 * MIN, [`missed:nightly:${e}`]],
  ])('%s', (_why, runStarts, now, ids) => {
    const out = detectMissed({ job_name: 'nightly', spec, from: e - 60 * MIN, now, runStarts });
    expect(out.map((d) => d.event_id)).toEqual(ids);
    for (const d of out) {
      expect(d.timestamp).toBe(e + 10 * MIN);
      expect(d.run_id).toBe(d.event_id);
      expect(d.error_message).toContain('expected at 2026-10-25T00:00:00.000Z');
    }
  });

  it('judges each slot once per window; a restart re-checks with the same event ids', () => {
    const from = e - 60 * MIN;
    const first = detectMissed({ job_name: 'nightly', spec, from, now: e + 20 * MIN, runStarts: [] });
    // The restarted agent starts checking from its lookback: the same slot, the same id.
    const afterRestart = detectMissed({ job_name: 'nightly', spec, from: e - 86_400_000 + 11 * MIN, now: e + 30 * MIN, runStarts: [e - 86_400_000] });
    expect(afterRestart.map((d) => d.event_id)).toEqual(first.map((d) => String(d.event_id)));
    // From the previous check on, nothing new is due.
    expect(detectMissed({ job_name: 'nightly', spec, from: e + 20 * MIN, now: e + 40 * MIN, runStarts: [] })).toEqual([]);
  });

  const every = (start: number, step: number, end: number): number[] => {
    const out: number[] = [];
    for (let t = start; t <= end; t += step) out.push(t);
    return out;
  };
  const H = at('2026-11-23T00:00:00Z');
  const five = { schedule: '*/5 * * * *', timezone: 'UTC', grace: 5 * MIN };
  const hourly40 = { schedule: '0 * * * *', timezone: 'UTC', grace: 40 * MIN };
  // [why, spec, run starts, from, now, slots (ISO) reported missed]
  it.each<[string, typeof spec, number[], number, number, string[]]>([
    // Judged: the 12 slots 01:00 … 01:55 (deadlines 01:05 … 02:00). The job has run every 10 minutes for hours.
    ['*/5 with grace 5m, a job running every 10 minutes misses every other slot', five, every(H - 120 * MIN, 10 * MIN, H + 180 * MIN), H + 65 * MIN, H + 120 * MIN + 1,
      ['01:05', '01:15', '01:25', '01:35', '01:45', '01:55']],
    ['*/5 with grace 5m, a job running every 5 minutes misses nothing', five, every(H - 120 * MIN, 5 * MIN, H + 180 * MIN), H + 65 * MIN, H + 120 * MIN + 1, []],
    ['*/5 with grace 5m, every run 4 minutes late still covers its own slot', five, every(H - 116 * MIN, 5 * MIN, H + 180 * MIN), H + 65 * MIN, H + 120 * MIN + 1, []],
    ['*/5 with grace 5m, the next slot\'s on-time run is not a late run of this one', five, [H + 55 * MIN, H + 65 * MIN], H + 65 * MIN, H + 75 * MIN + 1, ['01:00', '01:10']],
    ['* * * * * with grace 5m, two skipped runs are two misses, not pushed along by the later runs', { schedule: '* * * * *', timezone: 'UTC', grace: 5 * MIN }, every(H - 30 * MIN, MIN, H + 120 * MIN).filter((t) => t !== H + 61 * MIN && t !== H + 62 * MIN), H + 60 * MIN, H + 80 * MIN, ['01:01', '01:02']],
    ['*/5 with grace 5m, one run skipped is one miss', five, every(H - 120 * MIN, 5 * MIN, H + 180 * MIN).filter((t) => t !== H + 90 * MIN), H + 65 * MIN, H + 120 * MIN + 1, ['01:30']],
    ['0 * * * * with grace 40m, one run at 01:35 covers 01:00 (late), not 02:00 too', hourly40, [H + 35 * MIN, H + 95 * MIN], H + 100 * MIN, H + 160 * MIN + 1, ['02:00']],
    ['0 * * * * with grace 40m, runs at 01:35 and 01:55: one each', hourly40, [H + 35 * MIN, H + 95 * MIN, H + 115 * MIN], H + 100 * MIN, H + 160 * MIN + 1, []],
    ['0 * * * * with grace 40m, a run at 00:59 covers 01:00 early', hourly40, [H - MIN, H + 59 * MIN, H + 119 * MIN], H + 100 * MIN, H + 160 * MIN + 1, []],
    ['the same start known twice covers one slot', hourly40, [H + 35 * MIN, H + 95 * MIN, H + 95 * MIN], H + 100 * MIN, H + 160 * MIN + 1, ['02:00']],
  ])('%s', (_why, sp, runStarts, from, now, missed) => {
    const all = detectMissed({ job_name: 'j', spec: sp, from, now, runStarts });
    expect(all.map((d) => new Date(Number(String(d.event_id).split(':')[2])).toISOString().slice(11, 16))).toEqual(missed);
    // Judged a minute at a time, as the sweeps do, the verdicts are the same.
    const stepped: string[] = [];
    for (let t = from; t < now; t += MIN) stepped.push(...detectMissed({ job_name: 'j', spec: sp, from: t, now: Math.min(t + MIN, now), runStarts }).map((d) => String(d.event_id)));
    expect(stepped).toEqual(all.map((d) => String(d.event_id)));
  });

  it('next expected start is the next slot in local time', () => {
    expect(new Date(nextSlot(spec, e) as number).toISOString()).toBe('2026-10-26T01:00:00.000Z');
  });
});
